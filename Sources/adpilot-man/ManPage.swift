import AdPilotCore
import Foundation

/// Man pages from `--help` text and from the configuration reference.
enum ManPage {
    /// `--help` text: a first line `NAME VERSION: WHAT`, then sections headed by upper-case
    /// lines. Each section is kept verbatim (no fill), so the page reads as --help does.
    static func fromHelp(_ help: String, name: String, section: String) -> String {
        var lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let first = lines.removeFirst()
        let version = first.split(separator: " ").dropFirst().first.map { String($0.dropLast()) } ?? ""
        let what = first.split(separator: ":", maxSplits: 1).dropFirst().first?.trimmingCharacters(in: .whitespaces)
        var out = Roff.header(name: name, section: section, version: version)
        out += ".SH NAME\n\(name) \\- \(Roff.escape(what ?? name))\n"
        var open = false
        for line in lines {
            if isHeading(line) {
                if open { out += ".fi\n" }
                let heading = line == "USAGE" ? "SYNOPSIS" : line
                out += ".SH \(heading)\n.nf\n"
                open = true
            } else if open {
                out += (line.isEmpty ? "" : Roff.escape(line)) + "\n"
            }
        }
        if open { out += ".fi\n" }
        out += seeAlso(except: name)
        return out
    }

    /// `USAGE`, `EXIT CODES`, `GLOBAL OPTIONS (before or after the verb)`: upper case up to
    /// an optional parenthesis, at the start of the line.
    static func isHeading(_ line: String) -> Bool {
        let words = line.split(separator: " (", maxSplits: 1).first.map(String.init) ?? ""
        return !words.isEmpty && line.first != " " && words == words.uppercased() && words.contains { $0.isLetter }
    }

    static func seeAlso(except name: String) -> String {
        let pages = ["adpilotctl(1)", "adpilot.json(5)", "adpilotd(8)"].filter { !$0.hasPrefix(name + "(") }
        return ".SH SEE ALSO\n" + pages.map { "\\fB\($0.replacingOccurrences(of: "(", with: "\\fR("))" }
            .joined(separator: ", ") + "\n.PP\nThe documentation in /usr/share/doc/adpilot.\n"
    }

    /// docs/configuration.md as adpilot.json(5): headings as sections, paragraphs filled,
    /// code blocks verbatim, and every key table as one tagged paragraph per key.
    static func fromConfigReference(_ markdown: String) -> String {
        var out = Roff.header(name: "adpilot.json", section: "5", version: AdPilotVersion.string)
        out += ".SH NAME\nadpilot.json \\- the AdPilot controller's configuration file\n"
        out += ".SH SYNOPSIS\n/etc/adpilot/adpilot.json\n"
        var lines = markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)[...]
        while let line = lines.popFirst() {
            if line.hasPrefix("# ") {
                out += ".SH DESCRIPTION\n"
            } else if line.hasPrefix("## ") {
                out += ".SH \(Roff.escape(String(line.dropFirst(3))).uppercased())\n"
            } else if line.hasPrefix("### ") {
                out += ".SS \(Roff.inline(String(line.dropFirst(4))))\n"
            } else if line.hasPrefix("```") {
                out += ".PP\n.nf\n"
                while let code = lines.popFirst(), !code.hasPrefix("```") { out += Roff.escape(code) + "\n" }
                out += ".fi\n"
            } else if line.hasPrefix("|") {
                var rows = [line]
                while let next = lines.first, next.hasPrefix("|") { rows.append(lines.removeFirst()) }
                out += table(rows)
            } else if line.hasPrefix("- ") {
                out += ".IP \\(bu 2\n" + Roff.inline(String(line.dropFirst(2))) + "\n"
            } else if line.isEmpty {
                out += ".PP\n"
            } else {
                out += Roff.inline(line) + "\n"
            }
        }
        return out + seeAlso(except: "adpilot.json")
    }

    /// `| key | type | default | meaning |` rows as `.TP` paragraphs: the key in bold, then
    /// the other columns by their header names.
    static func table(_ rows: [String]) -> String {
        /// Cells split at `|`, but not at Markdown's escaped `\|` (which stays a `|`).
        func cells(_ row: String) -> [String] {
            let placeholder = "\u{1F}"
            return row.replacingOccurrences(of: "\\|", with: placeholder)
                .split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: placeholder, with: "|") }
        }
        guard rows.count > 2 else { return "" }
        let header = cells(rows[0])
        var out = ""
        for row in rows.dropFirst(2) {
            let c = cells(row)
            guard let key = c.first else { continue }
            out += ".TP\n" + Roff.inline(key) + "\n"
            let rest = Array(zip(header.dropFirst(), c.dropFirst()))
            let meaning = rest.last.map { Roff.inline($0.1) } ?? ""
            let facts = rest.dropLast().filter { !$0.1.isEmpty }.map { "\($0.0): \(Roff.inline($0.1))" }
                .joined(separator: "; ")
            out += (facts.isEmpty ? "" : facts + ".\n.br\n") + meaning + "\n"
        }
        return out
    }
}
