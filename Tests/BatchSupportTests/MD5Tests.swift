import BatchSupport
import Testing

@Suite("MD5")
struct MD5Tests {
    @Test(
        "RFC 1321 test suite",
        arguments: [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
            ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"),
            (String(repeating: "1234567890", count: 8), "57edf4a22be3c955ac49da2e2107b67a"),
        ]
    )
    func rfcVectors(input: String, digest: String) {
        #expect(MD5.hexDigest(of: input.utf8) == digest)
    }

    // Lengths around the 56- and 64-byte padding boundaries, digests from md5sum.
    @Test(
        "padding boundaries",
        arguments: [
            (55, "04364420e25c512fd958a70738aa8f72"),
            (56, "668a72d5ba17f08e62dabcafad6db14b"),
            (57, "693037871c4a9d3d8685018905cb530a"),
            (63, "7dc2ca208106a2f703567bdff99d8981"),
            (64, "c1bb4f81d892b2d57947682aeb252456"),
            (65, "1bc932052302d074bdec39795fe00cf6"),
            (119, "ab347a5f68c8a443cfcddc633f12c24f"),
            (120, "fb98667f98096de92620b64f46e1c5b5"),
            (128, "d69cb61a6ee87200676eb0d4b90edbcb"),
        ]
    )
    func paddingBoundaries(length: Int, digest: String) {
        #expect(MD5.hexDigest(of: [UInt8](repeating: UInt8(ascii: "x"), count: length)) == digest)
    }

    @Test("non-ASCII text is hashed as UTF-8")
    func utf8() {
        #expect(MD5.hexDigest(of: "héllo 🎉".utf8) == "38f29b0cfd3851fc66183ff1efa4b009")
    }

    @Test("1 MiB input, whole and in uneven pieces")
    func oneMebibyte() {
        let input = (0..<1_048_576).map { UInt8($0 % 251) }
        let expected = "8f293a2f6c19b345152f7a49bb4c643c"  // python3 hashlib.md5
        #expect(MD5.hexDigest(of: input) == expected)

        var md5 = MD5()
        var offset = 0
        var piece = 1
        while offset < input.count {
            let end = min(input.count, offset + piece)
            md5.update(input[offset..<end])
            offset = end
            piece = piece * 3 % 1000 + 1
        }
        let digest = md5.finalize().map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        #expect(digest.joined() == expected)
    }
}
