import Foundation

/// Escapes text for HTML element content and quoted attribute values. Every value that comes
/// from the repository or the request goes through this before it reaches a page.
func esc(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for character in text.unicodeScalars {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(character)
        }
    }
    return out
}

/// Percent-encodes a query-string value.
func urlComponent(_ text: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
}

/// Decodes `application/x-www-form-urlencoded` text (a form body or a query string).
func formFields(_ text: String) -> [String: String] {
    var fields: [String: String] = [:]
    for pair in text.split(separator: "&") {
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        func decode(_ part: Substring) -> String {
            String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
        }
        let name = decode(parts[0])
        guard !name.isEmpty, fields[name] == nil else { continue }
        fields[name] = parts.count > 1 ? decode(parts[1]) : ""
    }
    return fields
}
