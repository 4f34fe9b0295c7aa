import Foundation
import Testing
@testable import AdPilotCore

@Suite struct DocumentationTests {
    static let readme: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)) ?? ""
    }()

    @Test func readmeListsEveryReasonCode() {
        #expect(!Self.readme.isEmpty, "README.md not found next to Tests/")
        for code in ReasonCode.all {
            #expect(Self.readme.contains("| `\(code.rawValue)` |"), "README's reason-code table lacks \(code)")
        }
    }

    @Test func reasonCodesAreUniqueAndWellFormed() {
        #expect(Set(ReasonCode.all).count == ReasonCode.all.count)
        for code in ReasonCode.all {
            let parts = code.rawValue.split(separator: ".")
            #expect(parts.count == 2 && code.rawValue.allSatisfy { $0.isLowercase || $0 == "." || $0 == "_" }, "\(code)")
        }
    }
}
