import AdPilotCore
import AdPilotJournal
import AdPilotService
import AdPilotControl
import AdPilotPlatforms
import AdPilotSystem
import AdPilotTestSupport
import Foundation
import Testing

/// adpilotd as a real process: readiness, the write-ahead rule, crash recovery, halt, bad
/// configuration and the control socket's permissions.
@Suite(.serialized) struct DaemonTests {
    /// Pairs each platform write with the journaled decision that asked for it, per
    /// campaign and in order, and checks nothing was lost or written twice.
    static func checkWriteAheadRule(_ d: DaemonUnderTest) throws -> (writes: Int, reconciled: Int) {
        var decisions: [UInt64: (campaign: String, after: Int64, slot: String, mode: String)] = [:]
        var outcome: [UInt64: String] = [:]
        var reconciled = 0
        for r in try d.records(kinds: ["decision", "apply_result", "reconcile"]) {
            let data = d.data(r)
            switch r.kind {
            case "decision" where data["action"] as? String == "apply":
                decisions[r.seq] = (
                    data["campaign"] as! String, (data["budget_after_micros"] as! NSNumber).int64Value,
                    data["slot"] as! String, data["mode"] as! String
                )
            case "apply_result":
                outcome[(data["decision_seq"] as! NSNumber).uint64Value] = data["status"] as? String
            case "reconcile":
                reconciled += 1
                outcome[(data["decision_seq"] as! NSNumber).uint64Value] = data["outcome"] as? String
            default: break
            }
        }
        // What the journal says reached the platform, per campaign in decision order.
        var expected: [String: [Int64]] = [:]
        for seq in decisions.keys.sorted() {
            let d = decisions[seq]!
            #expect(d.slot == "live" && d.mode == "shadow", "decision \(seq) wrote from slot \(d.slot) in \(d.mode)")
            let o = outcome[seq]
            #expect(o != nil, "decision \(seq) has no outcome")
            if o == "confirmed" || o == "applied" { expected[d.campaign, default: []].append(d.after) }
        }
        var received: [String: [Int64]] = [:]
        let writes = try d.platformWrites()
        for w in writes { received[w.campaign.rawValue, default: []].append(w.budgetMicros.rawValue) }
        #expect(received == expected, "platform writes differ from journaled, confirmed decisions")
        return (writes.count, reconciled)
    }

    @Test func readinessWatchdogAndStopReachSystemd() throws {
        let d = try DaemonUnderTest("notify")
        let notify = NotifyListener(path: d.dir.path + "/notify.sock")
        try d.start(env: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"])
        let ready = try #require(notify.wait(for: "READY=1"))
        // Everything start-up owes the journal is there before READY.
        let kinds = try d.records().map(\.kind)
        #expect(Array(kinds.prefix(3)) == ["startup", "config", "transition"], "\(kinds.prefix(5))")
        #expect(notify.wait(for: "WATCHDOG=1") != nil)
        #expect(ready.text.contains("STATUS=shadow; live pace@1, candidate qlearn@1"), "\(ready.text)")
        #expect(d.waitForTicks(2) != nil)
        #expect(d.stop() == 0)
        #expect(notify.all.contains { $0.text.hasPrefix("STOPPING=1") })
        #expect(try d.records().last?.kind == "shutdown")
        let verified = JournalVerifier.verify(directory: d.stateDir + "/journal", key: nil)
        #expect((try? verified.get()) != nil, "the journal does not verify: \(verified)")
    }

    @Test func sigkillMidTickFiftyTimesLosesAndDuplicatesNothing() throws {
        let d = try DaemonUnderTest("crash", campaigns: 8)
        var rng = SplitMix64(seed: 0xC4A5_4ED5)
        let faults = ["ADPILOT_TEST_FAULTS": "apply_delay_ms=4"]
        for round in 0..<50 {
            let notify = NotifyListener(path: d.dir.path + "/notify-\(round).sock")
            try d.start(env: faults.merging(["NOTIFY_SOCKET": notify.path]) { a, _ in a })
            let ready = try #require(notify.wait(for: "READY=1"), "round \(round): no READY\n\(d.stderr.suffix(2_000))")
            // At READY every decision journaled so far already has its outcome (reconciled
            // if need be). READY's STATUS names the journal head at that moment.
            let head = try #require(ready.text.split(separator: " ").last.flatMap { UInt64($0) }, "\(ready.text)")
            let pending = try Self.pendingDecisions(d).filter { $0 <= head }
            #expect(pending.isEmpty, "round \(round): READY before reconciling \(pending)")
            usleep(UInt32(100_000 + rng.next() % 400_000))
            d.kill(SIGKILL)
            #expect(d.waitForExit() != nil)
        }
        try d.start()
        #expect(d.waitForTicks(1) != nil)
        #expect(d.stop() == 0)
        let (writes, reconciled) = try Self.checkWriteAheadRule(d)
        #expect(writes > 50, "too few writes (\(writes)) to prove anything")
        #expect(reconciled >= 1, "no kill landed between a decision and its outcome")
        let verified = JournalVerifier.verify(directory: d.stateDir + "/journal", key: nil)
        #expect((try? verified.get()) != nil, "the journal does not verify: \(verified)")
        print("crash test: 50 SIGKILLs, \(writes) platform writes, \(reconciled) reconciled decisions")
    }

    static func pendingDecisions(_ d: DaemonUnderTest) throws -> [UInt64] {
        var pending = Set<UInt64>()
        for r in try d.records(kinds: ["decision", "apply_result", "reconcile"]) {
            let data = d.data(r)
            if r.kind == "decision" {
                if data["action"] as? String == "apply" { pending.insert(r.seq) }
            } else {
                pending.remove((data["decision_seq"] as! NSNumber).uint64Value)
            }
        }
        return pending.sorted()
    }

    /// A second daemon on the same state directory is refused by the journal's writer lock
    /// before it opens anything else: the running daemon's simulated market is untouched.
    @Test func aDaemonRefusedByTheWriterLockTouchesNothing() throws {
        let a = try DaemonUnderTest("lock-first")
        try a.start()
        #expect(a.waitUntilServing() != nil)
        let market = a.marketDir + "/market.json"
        let before = try Data(contentsOf: URL(fileURLWithPath: market))
        let b = try DaemonUnderTest("lock-second")
        try b.start(arguments: ["--config", a.configPath, "--state-dir", a.stateDir, "--socket", b.socket])
        let status = try #require(b.waitForExit(), "the second daemon did not exit")
        #expect(status == 1, "\(b.stderr)")
        #expect(b.stderr.contains("lock") || b.stderr.contains("held by"), "\(b.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: market)) == before, "the refused daemon rewrote the market")
        #expect(a.status()?.mode == .shadow, "the first daemon still serves")
        #expect(a.stop() == 0)
    }

    /// Two daemons, one socket path (a hand-started demo on the production socket): the
    /// second refuses to take the socket over, and a verb meant for the second state
    /// directory never acts on the first daemon; `halt` then halts the directory it named.
    @Test func aSharedSocketNeverReachesTheWrongDaemon() throws {
        let a = try DaemonUnderTest("socket-owner")
        try a.start()
        let before = try #require(a.waitUntilServing())
        let b = try DaemonUnderTest("socket-intruder")
        try b.start(arguments: ["--config", b.configPath, "--state-dir", b.stateDir, "--socket", a.socket])
        #expect(b.waitForExit() == 1, "\(b.stderr)")
        #expect(b.stderr.contains("serves the control socket \(a.socket)"), "\(b.stderr)")
        #expect(a.status()?.mode == before.mode, "the first daemon lost its socket")

        let status = try b.ctl(["status"], socket: a.socket)
        #expect(status.status == 3 && status.err.contains("this daemon serves"), "\(status)")
        let halt = try b.ctl(["halt", "--reason", "meant for b"], socket: a.socket)
        #expect(halt.status == 0, "\(halt)")
        #expect(halt.err.contains("did not confirm the halt"), "\(halt.err)")
        #expect(FileManager.default.fileExists(atPath: b.stateDir + "/HALT"), "the named directory was not halted")
        #expect(a.status()?.mode != .halted && !FileManager.default.fileExists(atPath: a.stateDir + "/HALT"),
                "the other daemon was halted")
        #expect(a.stop() == 0)
    }

    @Test func haltFlagCreatedWhileDownKeepsTheDaemonHalted() throws {
        let d = try DaemonUnderTest("halt-down")
        try d.start()
        #expect(d.waitForTicks(2) != nil)
        #expect(d.stop() == 0)
        let halt = try d.ctl(["halt", "--reason", "maintenance window"])
        #expect(halt.status == 0, "\(halt.err)")
        #expect(halt.out.contains("journaled the halt"), "\(halt.out)")
        #expect(FileManager.default.fileExists(atPath: d.stateDir + "/HALT"))
        let writesBefore = try d.platformWrites().count
        try d.start()
        let s = try #require(d.waitForTicks(3))
        #expect(s.mode == .halted && s.haltFlag)
        #expect(try d.platformWrites().count == writesBefore, "a write while halted")
        let halts = try d.records(kinds: ["halt"])
        #expect(halts.contains { d.data($0)["reason"] as? String == "maintenance window" })
        // resume: shadow, the live slot emptied, the flag gone.
        let resume = try d.ctl(["resume", "--reason", "window over"])
        #expect(resume.status == 0, "\(resume.err)")
        let after = try #require(d.status())
        #expect(
            after.mode == .shadow && after.live == nil && after.candidate?.description == "qlearn@1" && !after.haltFlag)
        #expect(d.stop() == 0)
    }

    /// `sudo adpilotctl halt` with the daemon down must not leave root-owned files that
    /// the daemon (User=adpilot) could not append to or remove.
    @Test(.enabled(if: getuid() == 0, "needs root to change owners"))
    func offlineHaltByRootWritesAsTheStateDirectoryOwner() throws {
        let d = try DaemonUnderTest("halt-owner")
        try d.start()
        #expect(d.waitForTicks(2) != nil)
        #expect(d.stop() == 0)
        let service: UInt32 = 65534
        #expect(chmod(d.dir.path, 0o755) == 0)
        func everything() -> [String] {
            [d.stateDir] + (FileManager.default.subpaths(atPath: d.stateDir) ?? []).map { d.stateDir + "/" + $0 }
        }
        for path in everything() { #expect(lchown(path, service, service) == 0, "\(path)") }
        // Files the halt must create anew: a root-created lock would lock the daemon out.
        let lock = d.stateDir + "/journal/.lock"
        #expect(FileManager.default.fileExists(atPath: lock))
        try FileManager.default.removeItem(atPath: lock)

        let halt = try d.ctl(["halt", "--reason", "root, daemon down"])
        #expect(halt.status == 0, "\(halt.err)")
        #expect(FileManager.default.fileExists(atPath: d.stateDir + "/HALT"))
        #expect(FileManager.default.fileExists(atPath: lock), "the halt journaled without taking the lock?")
        for path in everything() {
            var st = stat()
            #expect(
                lstat(path, &st) == 0 && st.st_uid == service && st.st_gid == service,
                "\(path) belongs to uid \(st.st_uid)")
        }
        let halts = try d.records(kinds: ["halt"])
        #expect(halts.contains { d.data($0)["reason"] as? String == "root, daemon down" })
    }

    @Test func haltDuringATenThousandCampaignTickStopsWritesBeforeTheReply() throws {
        let d = try DaemonUnderTest("halt-10k", campaigns: 10_000, speed: 600)
        try d.start(env: ["ADPILOT_TEST_FAULTS": "apply_delay_ms=1"])
        #expect(d.waitUntilServing(seconds: 120) != nil, "\(d.stderr.suffix(2_000))")
        // Wait until writes are flowing, then halt in the middle of them. A debug build's first
        // 10,000-campaign tick (72 hours read and ingested per campaign) takes minutes on a
        // loaded 2-core machine before its first write.
        let deadline = Date().addingTimeInterval(600)
        while (try d.platformWrites().count) < 50 && Date() < deadline { usleep(20_000) }
        try #require(try d.platformWrites().count >= 50, "no writes in 600 s: nothing to interrupt")
        let started = Date()
        let r = ControlClient.call(ControlRequest(verb: "halt", reason: "latency test"), socket: d.socket)
        let latency = Date().timeIntervalSince(started)
        let atReply = try d.platformWrites().count
        guard case .success(let response) = r else { Issue.record("halt failed: \(r)"); return }
        #expect(response.exit == 0, "\(response.message)")
        var skipped = false
        let journaled = Date().addingTimeInterval(30)
        while !skipped && Date() < journaled {
            usleep(200_000)
            skipped = try d.records(kinds: ["apply_result"]).contains { d.data($0)["status"] as? String == "skipped" }
        }
        #expect(skipped, "the halt did not interrupt the tick")
        #expect(try d.platformWrites().count == atReply, "a platform write after the halt reply")
        print(
            "halt during a 10,000-campaign tick: reply after \(Int(latency * 1_000)) ms, \(atReply) writes before it, "
                + "none after"
        )
        #expect(d.stop() == 0)
    }

    @Test func badConfigRefusesToStartNamingTheKey() throws {
        let d = try DaemonUnderTest("bad-config") { c in
            var account = c["account"] as! [String: Any]
            account["daily_cap"] = 5
            c["account"] = account
        }
        try d.start()
        #expect(d.waitForExit() == 2)
        #expect(d.stderr.contains("account.daily_cap: unknown key (allowed here: daily_cap_micros,"), "\(d.stderr)")
    }

    /// The hang switch the systemd unit test uses must not work on a production config:
    /// the shipped one (simulator on the system clock) refuses to start with it set.
    @Test func testFaultSwitchesAreRefusedByTheShippedProductionConfig() throws {
        let d = try DaemonUnderTest("faults-refused")
        let shipped =
            URL(fileURLWithPath: DaemonUnderTest.policies).deletingLastPathComponent().path + "/systemd/adpilot.json"
        try d.start(
            env: ["ADPILOT_TEST_FAULTS": "hang_after_ticks=1"],
            arguments: ["--config", shipped, "--state-dir", d.stateDir, "--socket", d.socket])
        #expect(d.waitForExit() == 2)
        #expect(
            d.stderr.contains(
                "test fault switches are refused unless the platform is the simulator on an accelerated clock"),
            "\(d.stderr)")
        #expect(
            !FileManager.default.fileExists(atPath: d.stateDir + "/journal"),
            "nothing may be recorded before the refusal")

        // The same switch on the test config (simulator, accelerated clock) is taken.
        try d.start(env: ["ADPILOT_TEST_FAULTS": "apply_delay_ms=1"])
        #expect(d.waitUntilServing() != nil, "\(d.stderr)")
        #expect(d.stderr.contains("test fault switches in force: apply_delay_ms=1"))
        #expect(d.stop() == 0)
    }

    @Test func sighupAppliesAGoodConfigAndRefusesABadOne() throws {
        let d = try DaemonUnderTest("reload")
        try d.start()
        let first = try #require(d.waitForTicks(1))
        // Bad: refused, journaled, the old digest kept, still ticking.
        try "{\"version\": 1, \"tick_seconds\": 0}".write(toFile: d.configPath, atomically: true, encoding: .utf8)
        d.kill(SIGHUP)
        #expect(d.waitForTicks(3) != nil)
        let refused = try d.records(kinds: ["config"]).map { d.data($0) }.filter { $0["accepted"] as? Bool == false }
        #expect(
            refused.count == 1
                && (refused.first?["problem"] as? String)?.contains("tick_seconds: must be in 1...86400") == true,
            "\(refused)")
        #expect(d.status()?.configDigest == first.configDigest)
        // Good: a new digest from the next tick on.
        let good = try DaemonUnderTest("reload-good") { c in c["tick_seconds"] = 300 }
        try FileManager.default.removeItem(atPath: d.configPath)
        try FileManager.default.copyItem(atPath: good.configPath, toPath: d.configPath)
        d.kill(SIGHUP)
        #expect(d.waitForTicks(2) != nil)
        let now = try #require(d.status())
        #expect(now.configDigest != first.configDigest)
        #expect(d.stop() == 0)
    }

    @Test func callersOutsideTheOperatorsGroupGetExitFive() throws {
        let d = try DaemonUnderTest("perm")
        try d.start()
        #expect(d.waitUntilServing() != nil)
        chmod(d.dir.path, 0o755)  // anyone may reach the socket file; its mode (0660) decides
        let attrs = try FileManager.default.attributesOfItem(atPath: d.socket)
        #expect((attrs[.posixPermissions] as? NSNumber)?.intValue == 0o660)
        let outsider = try d.ctl(["status"], asUser: 65_534)
        #expect(outsider.status == 5, "\(outsider)")
        #expect(outsider.err.contains("permission denied"))
        let halt = try d.ctl(["halt", "--reason", "not mine to halt"], asUser: 65_534)
        #expect(halt.status == 5, "\(halt)")
        #expect(d.status()?.mode == .shadow)
        #expect(d.stop() == 0)
    }

    /// docs/operations.md: the unit must rate 2.0 or lower. Reported as skipped without systemd-analyze.
    @Test(
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"), "needs systemd-analyze"))
    func unitSandboxRatesTwoOrLower() throws {
        let analyze = "/usr/bin/systemd-analyze"
        let unit = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("systemd/adpilotd.service").path
        let text = try runProcess(analyze, ["security", "--offline=true", "--no-pager", unit], mergeStderr: true).out
        let line = try #require(
            text.split(separator: "\n").first { $0.contains("Overall exposure level") }, "\(text.suffix(500))")
        let score = try #require(line.split(separator: " ").compactMap { Double($0) }.first, "\(line)")
        #expect(score <= 2.0, "\(line)")
    }

    /// The state directory belongs to the service user, who could plant a link where a
    /// more privileged writer (root's offline halt) puts its temporary file. This attacker
    /// wins every race: it plants the link at the temporary's exact name just before the
    /// open. The write must fail rather than follow it.
    @Test func atomicWritesNeverFollowAPlantedTemporary() throws {
        let dir = TempDir("planted")
        let victim = dir.path + "/victim"
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: victim))
        // Every temporary-file open finds a symlink to `victim` already at its path.
        let planting = FaultInjectingFileIO(beforeOpen: { path in
            if path.contains(".tmp.") { _ = symlink(victim, path) }
        })
        let state = StateDirectory(dir.path + "/state", io: planting)
        try state.prepare()
        #expect(throws: SystemError.self) { try state.raiseHaltFlag(note: "halted by root") }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n", "the link was followed")
        #expect(!FileManager.default.fileExists(atPath: state.haltFlag))

        // Unattacked, the flag lands, and no temporary stays behind.
        let plain = StateDirectory(dir.path + "/state")
        try plain.raiseHaltFlag(note: "halted by root")
        #expect(try String(contentsOfFile: plain.haltFlag, encoding: .utf8) == "halted by root\n")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: plain.path).filter { name in
            var st = stat()
            return name.contains(".tmp.") && lstat(plain.path + "/" + name, &st) == 0
                && (st.st_mode & S_IFMT) == S_IFREG
        }
        #expect(leftovers.isEmpty, "temporaries left behind: \(leftovers)")
    }

    /// A halt forced by a full disk must still outlive a restart: the flag cannot be
    /// created, so the reserve written at start-up is renamed into place.
    @Test func aFullDiskStillRaisesTheHaltFlagFromTheReserve() throws {
        let dir = TempDir("full")
        let io = FaultInjectingFileIO()
        let state = StateDirectory(dir.path + "/state", io: io)
        try state.prepare()
        try state.prepareHaltReserve()
        io.fail(.create, after: 0, errno: ENOSPC)  // nothing new can be created
        try state.raiseHaltFlag(note: "halted by system: the journal cannot be written")
        #expect(state.isHalted)
        #expect(!FileManager.default.fileExists(atPath: state.haltReserve))
        #expect(
            try String(contentsOfFile: state.haltFlag, encoding: .utf8).contains(
                "the disk holding this directory was full"))

        // Space again: resume clears the flag and writes a new reserve.
        io.heal()
        try state.clearHaltFlag()
        #expect(!state.isHalted && FileManager.default.fileExists(atPath: state.haltReserve))

        // Without a reserve, a full disk is an error the caller sees.
        try FileManager.default.removeItem(atPath: state.haltReserve)
        io.fail(.create, after: 0, errno: ENOSPC)
        #expect(throws: SystemError.self) { try state.raiseHaltFlag(note: "x") }
        #expect(!state.isHalted)
    }

    /// Temporaries of writers that died mid-write go at the next start; a live writer's stay.
    @Test func staleTemporariesOfDeadWritersAreRemoved() throws {
        let dir = TempDir("stale")
        let state = StateDirectory(dir.path + "/state")
        try state.prepare()
        let dead = state.snapshot + ".tmp.\(Int32.max - 7).1a2b"  // no such pid
        let live = state.snapshot + ".tmp.\(getpid()).3c4d"
        let other = state.path + "/notes.tmp.1.5e6f"  // not one of ours
        let young = state.haltFlag + ".tmp.\(Int32.max - 7).7a8b"  // dead pid, but written a minute ago
        let old = Date(timeIntervalSinceNow: -3_600)
        for path in [dead, live, other, young] {
            #expect(FileManager.default.createFile(atPath: path, contents: Data("x".utf8)))
            if path != young { try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: path) }
        }
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -60)], ofItemAtPath: young)
        try state.prepare()
        #expect(!FileManager.default.fileExists(atPath: dead))
        #expect(FileManager.default.fileExists(atPath: live))
        #expect(FileManager.default.fileExists(atPath: other))
        #expect(FileManager.default.fileExists(atPath: young), "a writer in another PID namespace may still own it")
    }

    /// A daemon that took the request but never answered (wedged mid-verb): the CLI must
    /// not claim the request failed, only that its outcome is unknown.
    @Test func aSilentDaemonTimesOutSayingTheRequestMayHaveTakenEffect() throws {
        let dir = TempDir("silent")
        let path = dir.path + "/ctl.sock"
        try #require(
            path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path), "TMPDIR too long for a socket path")
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0 && listen(fd, 4) == 0)  // connections queue; nobody ever answers
        let started = Date()
        let result = ControlClient.call(ControlRequest(verb: "promote", reason: "r"), socket: path, timeoutSeconds: 1)
        guard case .failure(.unreachable(let message)) = result else {
            Issue.record("expected a timeout, got \(result)")
            return
        }
        #expect(Date().timeIntervalSince(started) >= 0.9)
        #expect(message.contains("within 1 s; the request was sent and may have taken effect"), "\(message)")
    }

    /// `journal show` on a decision the live slot applied: every part of the explanation,
    /// down to the platform's answer, from the real records.
    @Test func journalShowExplainsAnAppliedDecision() throws {
        let d = try DaemonUnderTest("show")
        try d.start()
        #expect(d.waitForTicks(3) != nil)
        #expect(d.stop() == 0)
        let results = try d.records(kinds: ["apply_result"])
        let result = try #require(results.first, "no write in three ticks")
        let seq = try #require((d.data(result)["decision_seq"] as? NSNumber)?.uint64Value)
        let show = try d.ctl(["journal", "show", "\(seq)"])
        #expect(show.status == 0, "\(show.err)")
        let text = show.out
        #expect(text.contains("kind  decision"), "\(text)")
        #expect(text.contains("slot live, policy pace@1"), "\(text)")
        #expect(text.range(of: #"\nproposed  [0-9]+\.[0-9]{6}\n"#, options: .regularExpression) != nil, "\(text)")
        for layer in ["validity", "pacer", "bounds", "step", "account_cap", "anomaly", "breaker"] {
            #expect(text.contains("\n  \(layer)"), "layer \(layer) missing: \(text)")
        }
        // The record lists only the layers that did something (format 2); show fills in the rest.
        #expect(text.contains("approve the amount unchanged"), "\(text)")
        #expect(text.contains(": apply"), "\(text)")
        #expect(text.contains("outcome   apply_result seq \(result.seq): "), "\(text)")
    }

    /// Journals written before proposals had their own JSON shape still explain.
    @Test func journalShowReadsTheOlderProposalShape() throws {
        let d = try DaemonUnderTest("old-shape")
        let writer = try JournalWriter.open(
            directory: d.stateDir + "/journal", options: JournalOptions(clock: SystemClock()))
        for proposal in [#"{"budget":{"_0":123450000.25}}"#, #"{"failed":{"_0":"input shape mismatch"}}"#] {
            let data =
                #"{"action":"would_apply","campaign":"c1","mode":"shadow","slot":"candidate","proposal":"# + proposal
                + "}"
            _ = try writer.append(kind: "decision", data: Array(data.utf8))
        }
        try writer.close()
        let budget = try d.ctl(["journal", "show", "1"])
        #expect(budget.status == 0 && budget.out.contains("\nproposed  123.450000\n"), "\(budget.out)")
        let failed = try d.ctl(["journal", "show", "2"])
        #expect(failed.status == 0 && failed.out.contains("\nproposed  error: input shape mismatch\n"), "\(failed.out)")
    }

    /// Unreadable state files stop start-up with the file, the problem and what to do.
    @Test func unreadableStateFilesNameThemselvesAndTheWayOut() throws {
        let d = try DaemonUnderTest("bad-state")
        try d.start()
        #expect(d.waitForTicks(1) != nil)
        #expect(d.stop() == 0)
        let snapshot = d.stateDir + "/controller-state.json"
        let text = try String(contentsOfFile: snapshot, encoding: .utf8)
        try text.replacingOccurrences(of: #""format":1"#, with: #""format":2"#).write(
            toFile: snapshot, atomically: true, encoding: .utf8)
        try d.start()
        #expect(d.waitForExit() == 1)
        #expect(
            d.stderr.contains("controller-state.json: controller state format 2, this adpilotd reads 1; move it aside"),
            "\(d.stderr)")
        try FileManager.default.removeItem(atPath: snapshot)

        try "{not json".write(toFile: d.marketDir + "/market.json", atomically: true, encoding: .utf8)
        try d.start()
        #expect(d.waitForExit() == 1)
        #expect(d.stderr.contains("market.json: unreadable simulated market"), "\(d.stderr)")
        #expect(d.stderr.contains("to start a fresh one"))
    }

    @Test func peerAuthorization() {
        #expect(Peer(pid: 1, uid: 0, gid: 0).isAuthorized(operatorsGID: nil, daemonUID: 999))
        #expect(Peer(pid: 1, uid: 999, gid: 5).isAuthorized(operatorsGID: nil, daemonUID: 999))
        #expect(Peer(pid: 1, uid: 1234, gid: 4321).isAuthorized(operatorsGID: 4321, daemonUID: 999))
        #expect(!Peer(pid: 1, uid: 65_534, gid: 65_534).isAuthorized(operatorsGID: 0, daemonUID: 999))
        #expect(!Peer(pid: 1, uid: 65_534, gid: 65_534).isAuthorized(operatorsGID: nil, daemonUID: 999))
    }

    @Test func statusJSONCarriesTheContractFields() throws {
        let d = try DaemonUnderTest("status")
        try d.start()
        #expect(d.waitForTicks(2) != nil)
        let r = try d.ctl(["status", "--json"])
        #expect(r.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        for key in ["mode", "candidate", "live", "halt_flag", "journal_head_seq", "breakers", "campaigns"] {
            #expect(json.keys.contains(key), "status --json lacks \(key)")
        }
        let campaigns = try #require(json["campaigns"] as? [[String: Any]])
        #expect(campaigns.count == 10)
        for key in ["id", "budget_micros", "spend_today_micros", "last_decision"] {
            #expect(campaigns[0].keys.contains(key), "campaign lacks \(key)")
        }
        let metrics = try String(contentsOfFile: d.stateDir + "/adpilot.prom", encoding: .utf8)
        for line in [
            "adpilot_mode{mode=\"shadow\"} 1", "adpilot_halt_flag 0", "# TYPE adpilot_decisions_total counter",
            "adpilot_last_tick_campaigns 10",
        ] {
            #expect(metrics.contains(line + "\n"), "metrics lack \(line)")
        }
        #expect(metrics.contains("adpilot_journal_head_seq "))
        let human = try d.ctl(["status"])
        #expect(human.out.hasPrefix("mode         shadow for "), "\(human.out)")
        #expect(human.out.contains("live         pace@1 ("))
        let down = try DaemonUnderTest("status-down")
        let unreachable = try down.ctl(["status"])
        #expect(unreachable.status == 4 && unreachable.err.contains("is adpilotd running?"))
        #expect(d.stop() == 0)
    }
}
