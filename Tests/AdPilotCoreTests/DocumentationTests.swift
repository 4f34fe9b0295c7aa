import Foundation
import Testing
@testable import AdPilotCore

/// The documentation is checked against the code and against itself, so it cannot drift:
/// the reason-code table, the configuration reference and the metrics table match the
/// code; every relative link in README.md, docs/ and Runbooks/ resolves; nothing refers to
/// a path outside the repository. (`ConfigReferenceTests` in DaemonTests also asks the
/// config reader itself which keys it accepts.)
@Suite struct DocumentationTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func read(_ relative: String) -> String {
        (try? String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8)) ?? ""
    }

    // MARK: Reason codes

    @Test func reasonCodeTableListsExactlyTheCodesTheCoreEmits() {
        let page = Self.read("docs/decision-pipeline.md")
        #expect(!page.isEmpty, "docs/decision-pipeline.md not found under \(Self.root.path)")
        let rows = Markdown.firstColumnCodes(Markdown.section(page, heading: "## Reason codes"))
        #expect(!rows.isEmpty, "docs/decision-pipeline.md has no table under \"## Reason codes\"")
        let known = Set(ReasonCode.all.map(\.rawValue))
        for code in ReasonCode.all where !rows.contains(code.rawValue) {
            Issue.record("docs/decision-pipeline.md's reason-code table lacks | `\(code.rawValue)` |")
        }
        for row in rows where !known.contains(row) {
            Issue.record("docs/decision-pipeline.md lists `\(row)`, which is not in ReasonCode.all")
        }
    }

    @Test func reasonCodesAreUniqueAndWellFormed() {
        #expect(Set(ReasonCode.all).count == ReasonCode.all.count)
        for code in ReasonCode.all {
            let parts = code.rawValue.split(separator: ".")
            #expect(
                parts.count == 2 && code.rawValue.allSatisfy { $0.isLowercase || $0 == "." || $0 == "_" }, "\(code)")
        }
    }

    // MARK: Links

    /// README.md, docs/**/*.md and Runbooks/**/*.md.
    static func markdownFiles() -> [String] {
        var out = ["README.md"]
        for dir in ["docs", "Runbooks"] { out += files(under: dir).filter { $0.hasSuffix(".md") } }
        return out
    }

    @Test func everyRelativeLinkResolves() throws {
        let pages = Self.markdownFiles()
        #expect(pages.contains("docs/README.md"), "docs/README.md (the index) is missing")
        var checked = 0
        for page in pages {
            let text = Self.read(page)
            let dir = (page as NSString).deletingLastPathComponent
            for link in Markdown.links(text) {
                if link.hasPrefix("#") {
                    if !Markdown.slugs(text).contains(String(link.dropFirst())) {
                        Issue.record("\(page): link \(link): no such heading in \(page)")
                    }
                    checked += 1
                    continue
                }
                if Markdown.isExternal(link) { continue }
                checked += 1
                let parts = link.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
                let rawPath = String(parts[0])
                guard !rawPath.hasPrefix("/") else {
                    Issue.record("\(page): link \(link) is absolute; use a path relative to \(page)")
                    continue
                }
                let path = rawPath.removingPercentEncoding ?? rawPath
                let joined = dir.isEmpty ? path : dir + "/" + path
                guard let target = Self.normalised(joined) else {
                    Issue.record("\(page): link \(link) leads outside the repository")
                    continue
                }
                var isDirectory: ObjCBool = false
                let url = Self.root.appendingPathComponent(target)
                guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                    Issue.record("\(page): link \(link): \(target) does not exist")
                    continue
                }
                if parts.count == 2, target.hasSuffix(".md"), !isDirectory.boolValue {
                    let anchor = String(parts[1])
                    if !Markdown.slugs(Self.read(target)).contains(anchor) {
                        Issue.record("\(page): link \(link): \(target) has no heading whose anchor is #\(anchor)")
                    }
                }
            }
        }
        #expect(checked > 20, "found only \(checked) relative links: is the link pattern still right?")
    }

    /// `a/./b/../c` as `a/c`; nil when it climbs above the repository root.
    static func normalised(_ path: String) -> String? {
        var out: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == ".." {
                guard !out.isEmpty else { return nil }
                out.removeLast()
            } else {
                out.append(part)
            }
        }
        return out.joined(separator: "/")
    }

    // MARK: Paths outside the repository

    /// Every regular file under `relative` (a directory or a file), as repository-relative paths.
    static func files(under relative: String) -> [String] {
        let url = root.appendingPathComponent(relative)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { return [relative] }
        guard let walk = FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.isRegularFileKey]) else {
            return []
        }
        var out: [String] = []
        for case let file as URL in walk
        where (try? file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            let rel = file.standardizedFileURL.path.dropFirst(url.standardizedFileURL.path.count + 1)
            out.append(relative + "/" + rel)
        }
        return out.sorted()
    }

    @Test func noFileRefersToAPathOutsideTheRepository() {
        // Built at run time, so this file does not match itself.
        let needles = [".." + "/shared", "SPEC" + " §"]
        let scanned = [
            "README.md", "docs", "Runbooks", "Sources", "Tests", "systemd", "Makefile", "Package.swift", ".ci",
            "Policies",
        ]
        var files: [String] = []
        for entry in scanned { files += Self.files(under: entry) }
        #expect(files.count > 50, "found only \(files.count) files under \(Self.root.path)")
        for file in files {
            guard let data = FileManager.default.contents(atPath: Self.root.appendingPathComponent(file).path) else {
                continue
            }
            for needle in needles where data.range(of: Data(needle.utf8)) != nil {
                Issue.record("\(file) contains \"\(needle)\": say it in the repository's own docs and link to them")
            }
        }
    }

    // MARK: Configuration reference

    /// Key paths in the first column of docs/configuration.md's reference tables.
    static func documentedConfigKeys() -> Set<String> {
        Set(Markdown.firstColumnCodes(Markdown.section(read("docs/configuration.md"), heading: "## Reference")))
    }

    @Test func everyDocumentedConfigKeyIsReadByTheCode() {
        let documented = Self.documentedConfigKeys()
        #expect(documented.count > 50, "docs/configuration.md's reference lists only \(documented.count) keys")
        var sources = ""
        for file in Self.files(under: "Sources") where file.hasSuffix(".swift") { sources += Self.read(file) }
        #expect(!sources.isEmpty)
        for key in documented.sorted() {
            let last = key.split(separator: ".").last.map { String($0).replacingOccurrences(of: "[]", with: "") } ?? key
            if !sources.contains("\"\(last)\"") {
                Issue.record(
                    Comment(rawValue: "docs/configuration.md documents `\(key)`, but no Swift source under Sources/ "
                        + "reads a key \"\(last)\"")
                )
            }
        }
    }

    @Test func everyKeyOfTheShippedConfigIsDocumented() throws {
        let data = try #require(
            FileManager.default.contents(atPath: Self.root.appendingPathComponent("systemd/adpilot.json").path),
            "systemd/adpilot.json not found")
        let json = try JSONSerialization.jsonObject(with: data)
        let leaves = Self.leafPaths(json, path: "")
        #expect(leaves.count > 50, "systemd/adpilot.json has only \(leaves.count) keys")
        let documented = Self.documentedConfigKeys()
        for key in leaves.sorted() where !documented.contains(key) {
            Issue.record("systemd/adpilot.json has `\(key)`, which docs/configuration.md's reference lacks")
        }
    }

    /// Key paths of the leaves: objects joined with dots, `name[]` for the elements of an
    /// array of objects; an empty array, an array of scalars and null are leaves.
    static func leafPaths(_ value: Any, path: String) -> Set<String> {
        if let object = value as? [String: Any] {
            var out = Set<String>()
            for (key, member) in object {
                out.formUnion(leafPaths(member, path: path.isEmpty ? key : "\(path).\(key)"))
            }
            return out
        }
        if let array = value as? [Any], !array.isEmpty, array.allSatisfy({ $0 is [String: Any] }) {
            return array.reduce(into: Set<String>()) { $0.formUnion(leafPaths($1, path: path + "[]")) }
        }
        return [path]
    }

    // MARK: Metrics

    @Test func metricsTableListsExactlyTheMetricsTheDaemonWrites() {
        var written = Set<String>()
        for file in Self.files(under: "Sources") where file.hasSuffix(".swift") {
            for match in Self.read(file).matches(of: #/metric\(\s*"(adpilot_[a-z_]+)"/#) {
                written.insert(String(match.output.1))
            }
        }
        #expect(written.count > 5, "found only \(written.count) metric(\"adpilot_...\") calls under Sources/")
        let documented = Set(
            Markdown.firstColumnCodes(Markdown.section(Self.read("docs/operations.md"), heading: "## Metrics")))
        for name in written.subtracting(documented).sorted() {
            Issue.record("the daemon writes \(name), which docs/operations.md's metrics table lacks")
        }
        for name in documented.subtracting(written).sorted() {
            Issue.record("docs/operations.md lists \(name), which no metric(\"...\") call under Sources/ writes")
        }
    }

    // MARK: README

    @Test func readmeStaysShort() {
        let bytes = Self.read("README.md").utf8.count
        #expect(
            bytes > 0 && bytes <= 12_000,
            "README.md has \(bytes) bytes; keep it at most 12,000 and move detail to docs/")
    }
}

/// Just enough Markdown for the checks above.
enum Markdown {
    /// Lines outside fenced code blocks.
    static func proseLines(_ text: String) -> [Substring] {
        var out: [Substring] = []
        var fence: Substring? = nil
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.drop { $0 == " " }
            if let f = fence {
                if trimmed.hasPrefix(f) { fence = nil }
                continue
            }
            if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") {
                fence = trimmed.prefix(3)
                continue
            }
            out.append(line)
        }
        return out
    }

    /// The lines from `heading` (a whole line, e.g. `## Reason codes`) to the next heading
    /// of the same or a higher level.
    static func section(_ text: String, heading: String) -> [Substring] {
        let level = heading.prefix { $0 == "#" }.count
        var out: [Substring] = []
        var inside = false
        for line in proseLines(text) {
            let hashes = line.prefix { $0 == "#" }.count
            let isHeading = hashes > 0 && line.dropFirst(hashes).first == " "
            if inside && isHeading && hashes <= level { break }
            if line.trimmingCharacters(in: .whitespaces) == heading { inside = true; continue }
            if inside { out.append(line) }
        }
        return out
    }

    /// The backticked first cells of table rows: | `code` | ...
    static func firstColumnCodes(_ lines: [Substring]) -> [String] {
        lines.compactMap { line in
            line.firstMatch(of: #/^\|\s*`([^`]+)`\s*\|/#).map { String($0.output.1) }
        }
    }

    /// Link targets: inline links and reference definitions, outside code.
    static func links(_ text: String) -> [String] {
        var out: [String] = []
        for line in proseLines(text) {
            let prose = line.replacing(#/`[^`]*`/#, with: "")
            for match in prose.matches(of: #/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/#) {
                out.append(String(match.output.1))
            }
            if let match = prose.firstMatch(of: #/^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/#) {
                out.append(String(match.output.1))
            }
        }
        return out
    }

    /// http:, https:, mailto: and any other scheme.
    static func isExternal(_ link: String) -> Bool {
        link.firstMatch(of: #/^[A-Za-z][A-Za-z0-9+.-]*:/#) != nil
    }

    /// Heading anchors as GitHub makes them: lowercase; links reduced to their text; every
    /// character that is not a letter, digit, space, `-` or `_` removed; spaces to `-`;
    /// a repeated anchor gets `-1`, `-2`, ...
    static func slugs(_ text: String) -> Set<String> {
        var out = Set<String>()
        var seen: [String: Int] = [:]
        for line in proseLines(text) {
            let hashes = line.prefix { $0 == "#" }.count
            guard (1...6).contains(hashes), line.dropFirst(hashes).first == " " else { continue }
            var title = String(line.dropFirst(hashes)).trimmingCharacters(in: .whitespaces)
            while title.hasSuffix("#") { title.removeLast() }
            title = title.trimmingCharacters(in: .whitespaces).replacing(#/!?\[([^\]]*)\]\([^)]*\)/#) {
                String($0.output.1)
            }
            let base = String(
                title.lowercased().unicodeScalars.compactMap { c -> Character? in
                    if c == " " { return "-" }
                    if c == "-" || c == "_" || CharacterSet.alphanumerics.contains(c) { return Character(c) }
                    return nil
                })
            let n = seen[base, default: 0]
            seen[base] = n + 1
            out.insert(n == 0 ? base : "\(base)-\(n)")
        }
        return out
    }
}
