// The daemon's controller at scale (10,000 campaigns unless --campaigns N): tick duration with journaling, halt latency
// through the real control socket while ticks run, resident memory, and start-up time with
// a 1 GB journal.
import AdPilotCore
import AdPilotJournal
import AdPilotControl
import AdPilotPlatforms
import AdPilotService
import AdPilotSystem
import Foundation

func residentKiB(_ field: String) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
    return 0
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let s = values.sorted()
    return s.isEmpty ? 0 : s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
}

func benchConfig(campaigns: Int, policiesDir: String) throws -> ServiceConfig {
    try DefaultConfig.demo(
        campaigns: campaigns, extraPolicyDirs: [policiesDir], overlay: DefaultConfig.liveWritingOverlay)
}

func startController(
    _ config: ServiceConfig, stateDir: String, speed: Double, wall: any TimeSource = SystemClock()
) throws -> Controller {
    guard case .simulator(let seed, let n) = config.platform else { fatalError("simulator config expected") }
    let market = try EmbeddedMarket.open(
        directory: stateDir + "/simulator", seed: seed, campaigns: n, speed: speed, wall: wall)
    return try Controller.start(
        config: config, stateDir: StateDirectory(stateDir), platform: market, clock: market.clock,
        sealKey: nil, log: Log(identifier: "bench", toJournald: false))
}

func benchDaemon(base: String, policiesDir: String, campaigns: Int) {
    say(
        "== daemon (\(grouped(campaigns)) simulated campaigns; live pace@1 writes, candidate qlearn@1 decides "
            + "in shadow)")
    let quiet = Log(identifier: "bench", toJournald: false)
    benchControllerAtScale(base: base, policiesDir: policiesDir, campaigns: campaigns, quiet: quiet)
}

/// 100000 -> "100,000".
func grouped(_ n: Int) -> String {
    let digits = Array(String(n))
    return String(digits.enumerated().flatMap { i, c in (i > 0 && (digits.count - i) % 3 == 0) ? [",", c] : [c] })
}

/// Start-up with a large journal, then `journal archive` on it (`adpilot-bench startup`).
func benchStartupAndArchive(base: String, policiesDir: String, journalBytes: Int64) {
    say("== start-up with a large journal, and archiving it")
    let quiet = Log(identifier: "bench", toJournald: false)
    benchStartup(base: base, policiesDir: policiesDir, journalBytes: journalBytes, quiet: quiet)
}

/// Tick duration and resident memory at scale, then halt latency while ticks run.
private func benchControllerAtScale(base: String, policiesDir: String, campaigns: Int, quiet: Log) {
    do {
        let dir = tempDirectory(base, "daemon")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try benchConfig(campaigns: campaigns, policiesDir: policiesDir)
        // Simulated time moves one tick interval per tick, whatever the tick took: each tick
        // sees what a production tick sees (a new hour every 3,600 / tick_seconds ticks). It
        // starts at a fixed moment, so every run sees the same hours and the same writes
        // (from the wall clock, the figures changed with the time of day the bench ran).
        let wall = ManualClock(Instant(secondsSinceEpoch: 1_780_308_300))  // Monday 2026-06-01 10:05 UTC
        let controller = try startController(config, stateDir: dir, speed: 1, wall: wall)
        let seconds = config.tickSeconds
        let step: @Sendable () -> Void = { wall.advance(seconds: seconds) }
        benchTicks(controller, campaigns: campaigns, step: step, quiet: quiet)

        // Halt latency: the real socket, while a thread keeps ticking.
        try benchHaltLatency(controller, campaigns: campaigns, socket: dir + "/ctl.sock", step: step, quiet: quiet)
        controller.shutdown(reason: "bench", log: quiet)
    } catch {
        say("daemon bench failed: \(error)")
    }
}

private func benchTicks(_ controller: Controller, campaigns: Int, step: () -> Void, quiet: Log) {
    var durations: [Double] = [], decisions = 0, writes = 0
    var phases: [String: [Double]] = [:], order: [String] = []
    for _ in 0..<13 {
        step()
        let r = controller.tick(log: quiet)
        releaseFreeMemory()  // as the daemon does after every tick
        for (phase, micros) in controller.lastTickPhases {
            if phases[phase] == nil { order.append(phase) }
            phases[phase, default: []].append(Double(micros) / 1_000)
        }
        durations.append(Double(r.durationMicros) / 1_000)
        decisions += r.decisions
        writes += r.confirmed
    }
    say(
        String(
            format: "tick, \(grouped(campaigns)) campaigns (observe, decide \(grouped(2 * campaigns)), "
                + "journal durably, write, read back, snapshot): p50 %.0f ms, max %.0f ms over 13 ticks "
                + "(%d decisions, %d confirmed writes)",
            percentile(durations, 0.5), durations.max() ?? 0, decisions, writes))
    say(
        "  phases, p50 (max): "
            + order.map { p in
                "\(p) " + String(format: "%.0f ms (%.0f)", percentile(phases[p]!, 0.5), phases[p]!.max()!)
            }.joined(separator: ", "))
    say(
        "resident memory at \(grouped(campaigns)) campaigns: \(residentKiB("VmRSS") / 1024) MiB (peak "
            + "\(residentKiB("VmHWM") / 1024) MiB), "
            + "market simulator included")
}

private func benchHaltLatency(
    _ controller: Controller, campaigns: Int, socket: String, step: @escaping @Sendable () -> Void, quiet: Log
) throws {
    let server = try ControlServer(path: socket, controller: controller, operatorsGroup: nil, log: quiet)
    server.start()
    let running = Guarded(true)
    let ticker = Thread {
        while running.current {
            step()
            controller.tick(log: quiet)
            releaseFreeMemory()
        }
    }
    ticker.start()
    var latencies: [Double] = []
    var rng = SplitMix64(seed: 11)
    for i in 0..<60 {
        usleep(UInt32(20_000 + rng.next() % 80_000))
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = ControlClient.call(ControlRequest(verb: "halt", reason: "bench \(i)"), socket: socket)
        latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        guard case .success(let ok) = r, ok.exit == 0 else { print("halt failed: \(r)"); break }
        // A refused resume would leave later halts timing the no-op "already halted" path.
        guard case .success = try controller.resume(actor: .system, reason: "bench", log: quiet) else {
            print("resume refused after halt \(i): the halt latencies would be meaningless")
            break
        }
    }
    running.with { $0 = false }
    while !ticker.isFinished { usleep(10_000) }
    server.stop()
    say(
        String(
            format:
                "halt through the socket while \(grouped(campaigns))-campaign ticks run: p50 %.1f ms, p99 %.1f ms, "
                    + "max %.1f ms "
                    + "(%d halts; "
                + "no write starts after the reply)", percentile(latencies, 0.5), percentile(latencies, 0.99),
            latencies.max() ?? 0,
            latencies.count))
}

/// Start-up with a large journal: filled with copies of real decision records.
private func benchStartup(base: String, policiesDir: String, journalBytes: Int64, quiet: Log) {
    do {
        let dir = tempDirectory(base, "startup")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try benchConfig(campaigns: 100, policiesDir: policiesDir)
        var c = try startController(config, stateDir: dir, speed: 600)
        c.tick(log: quiet)
        stop(c, quiet)
        try growJournal(in: dir, to: journalBytes)
        // A first start scans it all; its clean stop leaves a snapshot at the head.
        c = try startController(config, stateDir: dir, speed: 600)
        stop(c, quiet)
        let size = try FileManager.default.subpathsOfDirectory(atPath: dir + "/journal").reduce(Int64(0)) {
            $0
                + ((try FileManager.default.attributesOfItem(atPath: dir + "/journal/" + $1)[.size] as? NSNumber)?
                    .int64Value ?? 0)
        }
        for (label, keepSnapshot) in [
            ("after a clean stop (snapshot present)", true), ("without a snapshot (full scan)", false),
        ] {
            if !keepSnapshot { try? FileManager.default.removeItem(atPath: dir + "/controller-state.json") }
            let t0 = DispatchTime.now().uptimeNanoseconds
            c = try startController(config, stateDir: dir, speed: 600)
            let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
            stop(c, quiet)
            let readBack = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            say(
                String(
                    format: "start-up to ready with a %.2f GB journal, %@: %.0f ms (the shadow sample then read "
                        + "back on its own thread: %.0f s)", Double(size) / 1e9, label, ms, readBack))
        }
        c = try startController(config, stateDir: dir, speed: 600)  // leaves a snapshot again
        stop(c, quiet)
        try benchArchive(dir, config: config, quiet: quiet)
    } catch {
        say("start-up bench failed: \(error)")
    }
}

/// `journal archive` on that journal, `verify` over the archives, and start-up beside them.
private func benchArchive(_ dir: String, config: ServiceConfig, quiet: Log) throws {
    let clock = ContinuousClock()
    var plain: Result<VerifyReport, VerifyFailure>? = nil
    let p = clock.measure { plain = JournalVerifier.verify(directory: dir + "/journal") }
    let plainReport = try plain!.get()
    say(
        String(
            format: "journal verify over %d plain segments of decision records: %.0f MB/s (%.2f GB, page cache warm)",
            plainReport.segments, Double(plainReport.bytes) / 1e6 / seconds(p), Double(plainReport.bytes) / 1e9))
    var done: [JournalArchiver.Archived] = []
    let t = try clock.measure { done = try JournalArchiver.archive(directory: dir + "/journal") }
    let before = Double(done.reduce(0) { $0 + $1.bytes }), after = Double(done.reduce(0) { $0 + $1.compressedBytes })
    say(
        String(
            format: "journal archive: %d segments, %.2f GB -> %.3f GB (%.1f%%) in %.1f s, %.0f MB/s of segments "
                + "(verify first, compress, read back)", done.count, before / 1e9, after / 1e9, 100 * after / before,
            seconds(t), before / 1e6 / seconds(t)))
    var result: Result<VerifyReport, VerifyFailure>? = nil
    let v = clock.measure { result = JournalVerifier.verify(directory: dir + "/journal") }
    let report = try result!.get()
    say(
        String(
            format: "journal verify over %d archived + %d live segments: %.0f MB/s of records (%.2f GB)",
            done.count, report.segments - done.count, Double(report.bytes) / 1e6 / seconds(v),
            Double(report.bytes) / 1e9))
    let t0 = DispatchTime.now().uptimeNanoseconds
    let c = try startController(config, stateDir: dir, speed: 600)
    let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
    stop(c, quiet)
    say(String(format: "start-up to ready beside the archives (snapshot present): %.0f ms", ms))
}

/// A clean stop that also waits for the shadow sample's read-back thread, which reads the
/// whole journal and would otherwise run on beside the next measurement.
private func stop(_ c: Controller, _ quiet: Log) {
    c.shutdown(reason: "bench", log: quiet)
    while !c.valueRestoreFinished { usleep(10_000) }
}

/// Appends copies of the records in `dir`'s journal to it, about `journalBytes` of them.
private func growJournal(in dir: String, to journalBytes: Int64) throws {
    // Real records of one tick (decisions, apply results), repeated: what a long-running
    // daemon's journal is made of.
    var sample: [JournalEntry] = []
    // (Decisions that asked for a write are left out: copies of them would have no
    // outcome, and start-up would rightly reconcile every one.)
    let applyMarker = Array(#""action":"apply""#.utf8)
    try JournalReader(directory: dir + "/journal").records(
        matching: RecordFilter(kinds: ["decision", "apply_result"])
    ) { r in
        let data = Array(r.dataBytes)
        if r.kind == "decision" && data.firstRange(of: applyMarker) != nil { return true }
        sample.append(JournalEntry(kind: r.kind, data: data))
        return true
    }
    let sampleBytes = sample.reduce(0) { $0 + $1.data.count + 200 }
    var options = JournalOptions(clock: SystemClock())
    options.holder = "bench"
    let writer = try JournalWriter.open(directory: dir + "/journal", options: options)
    var bytes: Int64 = 0
    while bytes < journalBytes {
        _ = try writer.append(sample)
        bytes += Int64(sampleBytes)
    }
    try writer.close()
}

/// Prints a line at once (stdout to a pipe is block-buffered; these runs are long).
func say(_ text: String) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}
