import AdPilotCore
import AdPilotJournal
import AdPilotService
import AdPilotSystem
import AdPilotControl
import AdPilotPlatforms
import AdPilotTestSupport
import Foundation
import Testing

/// A real adpilotd process in a temporary directory, with a config file, its own state
/// directory and socket, and helpers to read what it journaled and what the simulated
/// platform received.
final class DaemonUnderTest {
    static let binDir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    static let policies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Policies").path

    let dir: TempDir
    var process: Process?
    var starts = 0
    var stateDir: String { dir.path + "/state" }
    var socket: String { dir.path + "/ctl.sock" }
    var configPath: String { dir.path + "/adpilot.json" }
    var marketDir: String { stateDir + "/simulator" }

    /// The embedded default with `live` pace@1 writing, `candidate` qlearn@1 in shadow, a
    /// fast clock (a tick every 1/6 s), no cooldown, and `edit` applied last.
    init(
        _ tag: String, campaigns: Int = 10, speed: Double = 3600, edit: (inout [String: Any]) -> Void = { _ in }
    ) throws {
        dir = TempDir(tag)
        var c = try JSONSerialization.jsonObject(with: Data(DefaultConfig.text.utf8)) as! [String: Any]
        c["slots"] = ["live": "pace@1", "candidate": "qlearn@1"]
        c["clock"] = ["kind": "accelerated", "speed": speed]
        c["policy_dirs"] = [Self.policies]
        c["platform"] = ["kind": "simulator", "seed": 7, "campaigns": campaigns]
        var account = c["account"] as! [String: Any]
        account["daily_cap_micros"] = Int64(campaigns) * 1_500_000_000
        c["account"] = account
        var defaults = c["campaign_defaults"] as! [String: Any]
        var guardrails = defaults["guardrails"] as! [String: Any]
        guardrails["cooldown_seconds"] = 0
        defaults["guardrails"] = guardrails
        c["campaign_defaults"] = defaults
        edit(&c)
        try writeConfig(c)
    }

    /// The hour every test's simulated market starts at, 2026-12-01 09:00 UTC (a Tuesday
    /// morning), unless the test pins another or passes its own arguments: the market (its
    /// hour of day, its day of week) would otherwise depend on when the test runs, and a
    /// statistical test passed on one day and failed on the next.
    static let marketHour = Instant(microsSinceEpoch: 498_921 * 3_600_000_000)

    /// Starts the simulated market at `hour` instead of the current hour, so that a test
    /// sees the same market on every day, at every hour, on every machine: the market's own
    /// state file (`simulator/market.json`, which
    /// `EmbeddedMarket.open` reads at start-up) as a platform already created with the
    /// config's seed and campaigns (`config`: another configuration the daemon will run, such
    /// as the embedded demo's). Its wall-clock anchor lies a minute ahead, so the time between
    /// this call and the daemon's start-up does not move the simulated clock (open never runs
    /// it backwards), and the first tick is the same slot in every run.
    func pinMarket(at hour: Instant, config: [String: Any]? = nil) throws {
        let own = { try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: self.configPath))) }
        let c = try config ?? #require(try own() as? [String: Any])
        let platform = try #require(c["platform"] as? [String: Any])
        let clock = try #require(c["clock"] as? [String: Any])
        let state: [String: Any] = [
            "seed": try #require(platform["seed"] as? Int), "campaigns": try #require(platform["campaigns"] as? Int),
            "startMicros": hour.microsSinceEpoch - EmbeddedMarket.historyDays * 86_400_000_000,
            "anchorSimMicros": hour.microsSinceEpoch,
            "anchorWallMicros": SystemClock().now().microsSinceEpoch + 60_000_000,
            "speed": try #require(clock["speed"] as? Double),
        ]
        try FileManager.default.createDirectory(
            atPath: marketDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        try JSONSerialization.data(withJSONObject: state).write(to: URL(fileURLWithPath: marketDir + "/market.json"))
    }

    func writeConfig(_ c: [String: Any]) throws {
        try JSONSerialization.data(withJSONObject: c, options: [.sortedKeys]).write(
            to: URL(fileURLWithPath: configPath))
    }

    /// Before the first start on the harness's own config, with the simulator on an
    /// accelerated clock: the market pinned to `marketHour`.
    private func pinFreshMarket() throws {
        guard !FileManager.default.fileExists(atPath: marketDir + "/market.json") else { return }
        let config = try Data(contentsOf: URL(fileURLWithPath: configPath))
        let c = try JSONSerialization.jsonObject(with: config) as? [String: Any]
        guard (c?["platform"] as? [String: Any])?["kind"] as? String == "simulator",
            (c?["clock"] as? [String: Any])?["kind"] as? String == "accelerated"
        else { return }
        try pinMarket(at: Self.marketHour)
    }

    func start(env extra: [String: String] = [:], arguments: [String]? = nil) throws {
        if arguments == nil { try pinFreshMarket() }
        let p = Process()
        p.executableURL = Self.binDir.appendingPathComponent("adpilotd")
        p.arguments = arguments ?? ["--config", configPath, "--state-dir", stateDir, "--socket", socket]
        var env = ProcessInfo.processInfo.environment
        for k in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "ADPILOT_TEST_FAULTS", "JOURNAL_STREAM"] {
            env[k] = nil
        }
        for (k, v) in extra { env[k] = v }
        p.environment = env
        starts += 1
        let log = dir.path + "/stderr-\(starts).log"
        #expect(FileManager.default.createFile(atPath: log, contents: nil))
        p.standardError = FileHandle(forWritingAtPath: log)
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        process = p
    }

    var stderr: String {
        (1...max(1, starts)).map {
            (try? String(contentsOfFile: dir.path + "/stderr-\($0).log", encoding: .utf8)) ?? ""
        }.joined()
    }

    /// Polls the socket until the daemon answers status (or gives up).
    @discardableResult
    func waitUntilServing(seconds: Double = 30) -> StatusReport? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if case .success(let r) = ControlClient.call(
                ControlRequest(verb: "status"), socket: socket, timeoutSeconds: 5), let s = r.status
            {
                return s
            }
            if let p = process, !p.isRunning { return nil }
            usleep(20_000)
        }
        return nil
    }

    func status() -> StatusReport? {
        if case .success(let r) = ControlClient.call(ControlRequest(verb: "status"), socket: socket), let s = r.status {
            return s
        }
        return nil
    }

    /// Waits until the daemon has run `count` more ticks.
    func waitForTicks(_ count: UInt64, seconds: Double = 60) -> StatusReport? {
        guard let first = waitUntilServing() else { return nil }
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let s = status(), s.ticks >= first.ticks + count { return s }
            usleep(20_000)
        }
        return nil
    }

    func kill(_ signal: Int32) {
        guard let p = process else { return }
        Glibc.kill(p.processIdentifier, signal)
    }

    /// Waits for the process to exit; its status, or nil on timeout.
    func waitForExit(seconds: Double = 30) -> Int32? {
        guard let p = process else { return nil }
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        guard !p.isRunning else { return nil }
        process = nil
        return p.terminationStatus
    }

    func stop() -> Int32? {
        kill(SIGTERM)
        return waitForExit()
    }

    deinit {
        if let p = process, p.isRunning {
            Glibc.kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
    }

    // MARK: What happened

    func records(kinds: Set<String> = []) throws -> [JournalRecord] {
        var out: [JournalRecord] = []
        try JournalReader(directory: stateDir + "/journal").records(matching: RecordFilter(kinds: kinds)) {
            out.append($0); return true
        }
        return out
    }

    func data(_ r: JournalRecord) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(r.dataBytes)) as? [String: Any]) ?? [:]
    }

    func platformWrites() throws -> [EmbeddedMarket.Write] {
        try EmbeddedMarket.writes(directory: marketDir)
    }

    /// Runs adpilotctl against this daemon, optionally as another user (setpriv).
    func ctl(_ args: [String], asUser uid: UInt32? = nil, socket: String? = nil) throws -> ProcessOutput {
        let bin = Self.binDir.appendingPathComponent("adpilotctl").path
        let full = args + ["--state-dir", stateDir, "--socket", socket ?? self.socket]
        guard let uid else { return try runProcess(bin, full) }
        return try runProcess("/usr/bin/setpriv", ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", bin] + full)
    }
}

/// A datagram socket standing in for systemd's NOTIFY_SOCKET: collects every sd_notify
/// message with the time it arrived.
final class NotifyListener: @unchecked Sendable {
    let path: String
    private let fd: Int32
    private let messages = Guarded<[(at: Date, text: String)]>([])

    init(path: String) {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        var tv = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let socketFD = fd, messages = self.messages
        let t = Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(socketFD, $0.baseAddress, $0.count, 0) }
                if n > 0 {
                    let text = String(decoding: buffer[0..<n], as: UTF8.self)
                    messages.with { $0.append((Date(), text)) }
                } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                    close(socketFD)  // shut down by deinit: this thread owns the descriptor
                    return
                }
            }
        }
        t.start()
    }

    var all: [(at: Date, text: String)] { messages.current }

    /// Waits until a message containing `line` (one of its lines) arrives; the whole message.
    func wait(for line: String, seconds: Double = 30) -> (at: Date, text: String)? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let m = all.first(where: { $0.text.split(separator: "\n").contains { $0 == line } }) { return m }
            usleep(10_000)
        }
        return nil
    }

    deinit { shutdown(fd, Int32(SHUT_RDWR)) }
}

/// The controller in-process on the embedded market (live `pace@1` writing, no cooldown),
/// with the market handed to `platform` to wrap: the races and failure paths a process-level
/// test cannot aim at.
struct InProcess {
    static let log = Log(identifier: "test", toJournald: false)
    let controller: Controller
    let market: EmbeddedMarket

    init(_ dir: TempDir, campaigns: Int, platform: (EmbeddedMarket) throws -> any AdPlatform = { $0 }) throws {
        let config = try DefaultConfig.demo(
            campaigns: campaigns, speed: 3_600, extraPolicyDirs: [DaemonUnderTest.policies],
            overlay: DefaultConfig.liveWritingOverlay)
        market = try EmbeddedMarket.open(
            directory: dir.path + "/simulator", seed: 3, campaigns: campaigns, speed: 3_600)
        controller = try Controller.start(
            config: config, stateDir: StateDirectory(dir.path), platform: try platform(market), clock: market.clock,
            sealKey: nil, log: Self.log)
    }
}

extension DaemonUnderTest {
    /// Writes each credential into a credentials directory; pass the path as
    /// CREDENTIALS_DIRECTORY.
    func credentials(_ secrets: [String: String]) throws -> String {
        let path = dir.path + "/credentials"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, secret) in secrets { try Data(secret.utf8).write(to: URL(fileURLWithPath: path + "/" + name)) }
        return path
    }
}
