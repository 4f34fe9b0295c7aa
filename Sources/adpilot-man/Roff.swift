import Foundation

/// Text into roff (man(7)): escapes, and the little Markdown docs/configuration.md uses.
enum Roff {
    /// Escapes a line for roff: backslashes, and a leading `.` or `'` that would be read
    /// as a request.
    static func escape(_ line: String) -> String {
        var s = line.replacingOccurrences(of: "\\", with: "\\e").replacingOccurrences(of: "-", with: "\\-")
        if s.hasPrefix(".") || s.hasPrefix("'") { s = "\\&" + s }
        return ascii(s)
    }

    /// Non-ASCII characters as groff's `\[uXXXX]`, so the page needs no input encoding.
    static func ascii(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            if u.isASCII {
                out.unicodeScalars.append(u)
            } else {
                let hex = String(u.value, radix: 16, uppercase: true)
                out += "\\[u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex + "]"
            }
        }
        return out
    }

    /// Markdown inline markup into roff fonts: `code` and **bold** in bold, links as their text.
    static func inline(_ markdown: String) -> String {
        var s = markdown.replacing(#/\[([^\]]+)\]\([^)]*\)/#) { String($0.output.1) }
        s = escape(s)
        s = s.replacing(#/\*\*([^*]+)\*\*/#) { "\\fB\($0.output.1)\\fR" }
        s = s.replacing(#/`([^`]+)`/#) { "\\fB\($0.output.1)\\fR" }
        return s
    }

    static func header(name: String, section: String, version: String) -> String {
        ".TH \(name.uppercased()) \(section) \"\" \"AdPilot \(version)\" \"AdPilot Manual\"\n.nh\n"
    }
}
