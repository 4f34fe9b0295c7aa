import Foundation
import Testing

/// The executables, run as real processes, with golden output for the human-facing text.
@Suite struct CLITests {
    static let binDir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent()  // .build/<triple>/debug/AdPilotPackageTests.xctest -> debug/

    struct Run { let status: Int32; let out: String; let err: String }

    static func run(_ name: String, _ args: [String]) throws -> Run {
        let p = Process()
        p.executableURL = binDir.appendingPathComponent(name)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
    }

    @Test func daemonHelpIsGolden() throws {
        let r = try Self.run("adpilotd", ["--help"])
        #expect(r.status == 0 && r.err.isEmpty)
        #expect(r.out == """
            adpilotd 0.1.0: the AdPilot controller daemon

            USAGE
              adpilotd --help
              adpilotd --version

            This build contains AdPilot's decision core (money, modes, pacer, guardrails,
            anomaly detector, circuit breaker, decision pipeline). The daemon runtime
            (--config, --demo, --check-config, --print-default-config) is not built yet;
            see README.md, "Status".

            OPTIONS
              -h, --help      Show this help and exit.
              --version       Show the version and the linked system libraries, and exit.

            EXIT CODES
              0 done, 2 usage error

            """)
    }

    @Test func ctlHelpIsGolden() throws {
        let r = try Self.run("adpilotctl", ["-h"])
        #expect(r.status == 0)
        #expect(r.out.hasPrefix("adpilotctl 0.1.0: operate the AdPilot controller\n"))
        #expect(r.out.contains("status, stage, promote, rollback, halt, resume"))
    }

    @Test(arguments: ["adpilotd", "adpilotctl"])
    func versionNamesTheLinkedLibraries(name: String) throws {
        let r = try Self.run(name, ["--version"])
        #expect(r.status == 0)
        #expect(r.out.hasPrefix("\(name) 0.1.0 (libcurl "), "\(r.out)")
        #expect(r.out.contains("OpenSSL 3") && r.out.contains("libsystemd"))
    }

    @Test(arguments: ["adpilotd", "adpilotctl"])
    func anythingElseIsAUsageErrorThatSaysWhy(name: String) throws {
        let r = try Self.run(name, ["--demo"])
        #expect(r.status == 2 && r.out.isEmpty)
        #expect(r.err.hasPrefix("\(name): \"--demo\": "), "\(r.err)")
        #expect(r.err.contains("not built yet") || r.err.contains("no operator verbs"))
    }
}
