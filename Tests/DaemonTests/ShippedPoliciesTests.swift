import Foundation
import Testing
import AdPilotTestSupport
@testable import AdPilotService

/// `adpilotd --demo` and `adpilotctl` find the shipped policies beside the binary, in a
/// build tree and in an install, without `--policy-dir`.
@Suite struct ShippedPoliciesTests {
    static func make(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    @Test func aBuildTreeFindsTheCheckoutsPolicies() throws {
        let dir = TempDir("shipped-build")
        try Self.make(dir.path + "/repo/Policies/pace@1")
        try Self.make(dir.path + "/repo/.build/x86_64-unknown-linux-gnu/debug")
        let binary = dir.path + "/repo/.build/x86_64-unknown-linux-gnu/debug/adpilotd"
        FileManager.default.createFile(atPath: binary, contents: Data())
        // .build/debug is a symlink to the triple's directory, as SwiftPM makes it.
        try FileManager.default.createSymbolicLink(
            atPath: dir.path + "/repo/.build/debug", withDestinationPath: "x86_64-unknown-linux-gnu/debug")
        let found = ShippedPolicies.directories(executable: dir.path + "/repo/.build/debug/adpilotd")
        #expect(found.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }
            == [URL(fileURLWithPath: dir.path + "/repo/Policies").resolvingSymlinksInPath().path])
    }

    @Test func anInstallFindsItsSharedPolicies() throws {
        let dir = TempDir("shipped-install")
        try Self.make(dir.path + "/opt/share/adpilot/policies/qlearn@1")
        try Self.make(dir.path + "/opt/bin")
        FileManager.default.createFile(atPath: dir.path + "/opt/bin/adpilotd", contents: Data())
        let found = ShippedPolicies.directories(executable: dir.path + "/opt/bin/adpilotd")
        #expect(found.count == 1 && found[0].hasSuffix("/opt/share/adpilot/policies"), "\(found)")
    }

    @Test func nothingBesideTheBinaryFindsNothing() throws {
        let dir = TempDir("shipped-none")
        try Self.make(dir.path + "/bin")
        try Self.make(dir.path + "/Policies/empty")  // no NAME@VERSION inside
        FileManager.default.createFile(atPath: dir.path + "/bin/adpilotd", contents: Data())
        #expect(ShippedPolicies.directories(executable: dir.path + "/bin/adpilotd").isEmpty)
    }
}
