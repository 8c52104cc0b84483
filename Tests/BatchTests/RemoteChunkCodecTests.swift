import Batch
import Testing

@Suite("Remote chunk codecs")
struct RemoteChunkCodecTests {
    struct Row: Codable, Equatable, Sendable {
        var id: Int64
        var text: String
    }

    static let delimited = DelimitedChunkCodec<Row>(
        fields: { row, fields in
            fields.append(row.id)
            fields.append(row.text)
        },
        item: { fields in
            guard fields.count == 2, let id = Int64(fields[0]) else { throw RemoteChunkDecodingError("bad row \(fields)") }
            return Row(id: id, text: String(fields[1]))
        })

    static let awkward = [
        Row(id: 1, text: "plain"), Row(id: -2, text: ""), Row(id: 3, text: "tab\there"),
        Row(id: 4, text: "new\nline"), Row(id: 5, text: "crlf\r\n"), Row(id: 6, text: "back\\slash\\t not a tab"),
        Row(id: 7, text: "ünïcødé 🚀 e\u{301}"), Row(id: Int64.max, text: "\\"), Row(id: 9, text: "\r"),
    ]

    @Test func delimitedRoundTripsEveryAwkwardCharacter() throws {
        let payload = try Self.delimited.encode(Self.awkward)
        #expect(!payload.contains("\r") && payload.split(separator: "\n").count == Self.awkward.count)
        #expect(try Self.delimited.decode(payload, count: Self.awkward.count) == Self.awkward)
        #expect(try Self.delimited.decode(try Self.delimited.encode([]), count: 0).isEmpty)
    }

    @Test func delimitedNamesWhatItCannotDecode() {
        #expect(throws: RemoteChunkDecodingError.self) { try Self.delimited.decode("x\ty", count: 1) }
    }

    @Test func jsonRoundTrips() throws {
        let codec = JSONChunkCodec<Row>()
        #expect(try codec.decode(try codec.encode(Self.awkward), count: Self.awkward.count) == Self.awkward)
    }
}
