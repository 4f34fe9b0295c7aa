package import AdPilotControl
import AdPilotJournal
package import AdPilotCore
import AdPilotPlatforms
import AdPilotSystem
import CPosix
import CSystemd
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `adpilotd`'s life: configuration, start-up and recovery, readiness, the tick loop with
/// signals and the watchdog, and a clean stop.
package enum Daemon {
    package struct Options: Sendable {
        package var global = GlobalOptions()
        package var demo = false
        package var campaigns: Int? = nil
        package var speed: Double? = nil
        package var policyDirs: [String] = []
        package init() {}
    }

    static let credentialBytesMax = 64 << 10

    /// Test-only fault switches, from `ADPILOT_TEST_FAULTS`
    /// (`apply_delay_ms=N,hang_after_ticks=N,degrade=ID+ID`, and the market faults
    /// `tracking_outage=`, `click_spike=`, `spend_spike=`, each a `+`-separated campaign list,
    /// starting `faults_after_hours=N` simulated hours after start-up).
    /// Accepted only with the simulator on an accelerated clock, which only tests and demos
    /// use: a production config (real platform, or the system clock, as the shipped
    /// `/etc/adpilot/adpilot.json` has) refuses to start while the variable is set.
    package struct TestFaults: Sendable, Equatable {
        package var applyDelayMillis = 0
        package var hangAfterTicks: UInt64? = nil
        /// Simulated campaigns whose conversions fall to a fifth from start-up on.
        package var degraded: Set<String> = []
        package var trackingOutage: Set<String> = []
        package var clickSpike: Set<String> = []
        package var spendSpike: Set<String> = []
        package var faultsAfterHours = 0

        var anyMarketFault: Bool {
            !degraded.isEmpty || !trackingOutage.isEmpty || !clickSpike.isEmpty || !spendSpike.isEmpty
        }

        package static func parse(_ text: String) -> TestFaults? {
            var f = TestFaults()
            for item in text.split(separator: ",") {
                let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2 else { return nil }
                let campaigns = Set(kv[1].split(separator: "+").map(String.init))
                switch kv[0] {
                case "degrade": f.degraded = campaigns; continue
                case "tracking_outage": f.trackingOutage = campaigns; continue
                case "click_spike": f.clickSpike = campaigns; continue
                case "spend_spike": f.spendSpike = campaigns; continue
                default: break
                }
                guard let n = Int(kv[1]), n >= 0, n <= 100_000 else { return nil }
                switch kv[0] {
                case "apply_delay_ms": f.applyDelayMillis = n
                case "hang_after_ticks": f.hangAfterTicks = UInt64(n)
                case "faults_after_hours": f.faultsAfterHours = n
                default: return nil
                }
            }
            return f
        }
    }

    /// Loads the configuration the options name, or the embedded demo default.
    package static func loadConfig(_ o: Options) -> Result<ServiceConfig, ConfigProblem> {
        do {
            if o.demo {
                return .success(
                    try DefaultConfig.demo(
                        campaigns: o.campaigns ?? DefaultConfig.demoCampaigns,
                        speed: o.speed ?? DefaultConfig.demoSpeed,
                        extraPolicyDirs: ShippedPolicies.directories() + o.policyDirs))
            }
            var c = try ServiceConfig.load(path: o.global.config)
            c.policyDirs += o.policyDirs
            return .success(c)
        } catch {
            return .failure(error)
        }
    }

    static func readCredential(_ name: String, _ o: Options) throws -> [UInt8] {
        guard let dir = o.global.credentialsDir else {
            throw StartupError(
                "credential \(name) is configured but there is no credentials directory "
                    + "(systemd LoadCredential= sets $CREDENTIALS_DIRECTORY; or pass --credentials-dir DIR)")
        }
        do {
            let bytes = try PosixFileIO().readSecret(dir + "/" + name, limit: credentialBytesMax)
            guard !bytes.isEmpty else {
                throw StartupError(
                    "credential \(dir)/\(name) is empty: put the secret in the file its LoadCredential= line names, "
                        + "then restart"
                )
            }
            return bytes
        } catch let e as StartupError {
            throw e
        } catch {
            throw StartupError("cannot read credential \(dir)/\(name): \(error)")
        }
    }

    static func makePlatform(
        _ config: ServiceConfig, _ o: Options, stateDir: StateDirectory,
        faults: TestFaults
    ) throws -> (any AdPlatform, any TimeSource) {
        switch config.platform {
        case .simulator(let seed, let campaigns):
            let market = try EmbeddedMarket.open(
                directory: stateDir.market, seed: seed, campaigns: campaigns, speed: config.clock.speed)
            if faults.anyMarketFault {
                market.simulator.advance(to: market.clock.now())  // history stays as it was
                market.simulator.faults.degradedCampaigns = Set(faults.degraded.map(CampaignID.init))
                market.simulator.faults.trackingOutage = Set(faults.trackingOutage.map(CampaignID.init))
                market.simulator.faults.clickSpike = Set(faults.clickSpike.map(CampaignID.init))
                market.simulator.faults.spendSpike = Set(faults.spendSpike.map(CampaignID.init))
                market.simulator.faults.campaignFaultsFromHour =
                    market.simulator.nextHour + Int64(faults.faultsAfterHours)
            }
            return (market, market.clock)
        case .tiktok(let c, let credential):
            let token = String(decoding: try readCredential(credential, o), as: UTF8.self)
            return (try withRevenue(TikTokAdapter(config: c, token: token), config, o), SystemClock())
        case .meta(let c, let credential):
            let token = String(decoding: try readCredential(credential, o), as: UTF8.self)
            return (try withRevenue(MetaAdapter(config: c, token: token), config, o), SystemClock())
        case .shopify:
            throw StartupError(
                "platform.kind shopify is a revenue source, not an ad platform: configure tiktok, meta or simulator")
        }
    }

    /// The ad platform, with conversions and value from the shop when `revenue` names one.
    static func withRevenue(
        _ platform: any AdPlatform, _ config: ServiceConfig, _ o: Options
    ) throws -> any AdPlatform {
        guard case .shopify(let c, let credential)? = config.revenue else { return platform }
        let token = String(decoding: try readCredential(credential, o), as: UTF8.self)
        return RevenueAttributed(platform, revenue: ShopifyRevenue(config: c, token: token))
    }

    package static func run(_ o: Options) -> ExitCode {
        let log = Log()
        let signals: SignalChannel
        do {
            signals = try SignalChannel.open([SIGTERM, SIGHUP, SIGINT])
        } catch {
            log.critical("signalfd: \(error.message)")
            return .checkFailed
        }
        let config: ServiceConfig
        switch loadConfig(o) {
        case .success(let c): config = c
        case .failure(let p):
            StandardError.write("adpilotd: \(o.demo ? "embedded default config" : o.global.config): \(p)\n")
            return .usage
        }
        var faults = TestFaults()
        if let text = GlobalOptions.env("ADPILOT_TEST_FAULTS") {
            guard case .simulator = config.platform, case .accelerated = config.clock, let f = TestFaults.parse(text)
            else {
                log.critical(
                    "ADPILOT_TEST_FAULTS is set (\(text)): test fault switches are refused unless the platform is the "
                        + "simulator on an accelerated clock, and when malformed "
                        + "(apply_delay_ms=N,hang_after_ticks=N,degrade=ID+ID); unset it"
                )
                return .usage
            }
            log.warning("test fault switches in force: \(text)")
            faults = f
        }
        let stateDir = StateDirectory(o.global.stateDir)
        SystemdNotify.send("STATUS=starting: recovering the journal in \(stateDir.journal)")
        let controller: Controller
        let server: ControlServer
        do {
            let key = try config.journalKeyCredential.map { try readCredential($0, o) }
            // The writer lock first: a daemon refused by it has opened nothing else.
            let journal = try Controller.openJournal(config: config, stateDir: stateDir, sealKey: key, log: log)
            let (platform, clock) = try makePlatform(config, o, stateDir: stateDir, faults: faults)
            controller = try Controller.start(
                config: config, stateDir: stateDir, journal: journal, platform: platform, clock: clock, log: log)
            server = try ControlServer(
                path: o.global.socket, controller: controller, operatorsGroup: config.operatorsGroup, log: log)
        } catch {
            log.critical("cannot start: \(error)")
            SystemdNotify.send("STATUS=failed to start: \(error)")
            return .checkFailed
        }
        controller.applyDelayMillis = faults.applyDelayMillis
        if let metrics = config.metricsPath { stateDir.removeStaleTemporaries(of: metrics) }
        server.start()
        let state = controller.controlState
        log.notice(
            "ready: \(state.mode.rawValue), live \(state.live?.description ?? "none"), candidate "
                + "\(state.candidate?.description ?? "none"); "
                + "socket \(o.global.socket)",
            ["ADPILOT_SEQ": "\(controller.journal.head.seq)", "ADPILOT_MODE": state.mode.rawValue])
        SystemdNotify.send("READY=1\nSTATUS=\(statusLine(controller, nil))")

        let (stopReason, failed) = loop(
            controller, config: config, signals: signals, options: o, faults: faults, log: log)
        SystemdNotify.send("STOPPING=1\nSTATUS=stopping: \(stopReason)")
        server.stop()
        controller.shutdown(reason: stopReason, log: log)
        log.notice("stopped: \(stopReason)")
        return failed ? .checkFailed : .ok
    }

    static func statusLine(_ c: Controller, _ r: TickReport?) -> String {
        let s = c.controlState
        var line =
            "\(s.mode.rawValue); live \(s.live?.description ?? "none"), candidate \(s.candidate?.description ?? "none")"
        if c.isHaltInForce { line += "; HALTED" }
        if let r {
            line += "; tick \(r.tick): \(r.campaigns) campaigns, \(r.decisions) decisions, \(r.confirmed) writes"
            if let e = r.error { line += "; problem: \(e)" }
        }
        return line + "; journal seq \(c.journal.head.seq)"
    }

    /// Ticks on the controller's clock, serves signals, pings the watchdog while healthy.
    /// Returns why it stopped, and whether that is a failure: a journal that cannot be
    /// written ends the loop (after the tick halted), so that `Restart=on-failure` reopens
    /// it in seconds rather than after the watchdog's timeout.
    /// The wall time (micros) at which the controller's clock reaches its next tick slot
    /// (an accelerated clock gets there `speed` times sooner).
    static func wallTime(ofNextSlotAfter now: Instant, _ config: ServiceConfig, wall: SystemClock) -> Int64 {
        let next = TickSchedule.next(after: now, tickSeconds: config.tickSeconds)
        let simMicros = Double(next.microsSinceEpoch - now.microsSinceEpoch)
        return wall.now().microsSinceEpoch + Int64((simMicros / config.clock.speed).rounded(.up))
    }

    static func loop(
        _ controller: Controller, config: ServiceConfig, signals: SignalChannel, options: Options, faults: TestFaults,
        log: Log
    ) -> (reason: String, failed: Bool) {
        var watchdogMicros: UInt64 = 0
        let watchdog = sd_watchdog_enabled(0, &watchdogMicros) > 0 ? Int64(watchdogMicros / 2) : 0
        let speed = config.clock.speed
        var tickSeconds = config.tickSeconds
        let wall = SystemClock()
        // The first tick at the first slot of the controller's clock after start-up.
        var nextTick = wallTime(ofNextSlotAfter: controller.clock.now(), config, wall: wall)
        var nextPing = nextTick
        while true {
            let now = wall.now().microsSinceEpoch
            if now >= nextTick {
                if let n = faults.hangAfterTicks, controller.ticksThisRun >= n {
                    log.warning("test fault: hanging after \(n) ticks (no ticks, no watchdog pings)")
                    while true { sleep(3_600) }
                }
                let report = controller.tick(log: log)
                // What the tick freed (hundreds of MB at 100,000 campaigns) goes back to the
                // kernel instead of staying in glibc's arenas until the next tick.
                releaseFreeMemory()
                SystemdNotify.send("STATUS=\(statusLine(controller, report))")
                // Before exiting on a broken journal too: the file then says so
                // (`adpilot_journal_writable 0`) until a daemon that can write starts.
                writeMetrics(controller, config: controller.config, stateDir: controller.stateDir, log: log)
                if controller.journal.isPoisoned {
                    return (
                        "the journal cannot be written; exiting so that a restart reopens it (the halt is in force)",
                        true
                    )
                }
                nextTick = wallTime(ofNextSlotAfter: controller.clock.now(), controller.config, wall: wall)
            }
            if watchdog > 0 && wall.now().microsSinceEpoch >= nextPing {
                // Only a loop that still ticks and can still journal is healthy.
                if !controller.journal.isPoisoned { SystemdNotify.send("WATCHDOG=1") }
                nextPing = wall.now().microsSinceEpoch + watchdog
            }
            let wakeAt = watchdog > 0 ? min(nextTick, nextPing) : nextTick
            let timeoutMillis = Int32(clamping: max(0, (wakeAt - wall.now().microsSinceEpoch + 999) / 1_000))
            guard let signo = signals.wait(timeoutMillis: timeoutMillis) else { continue }
            switch signo {
            case SIGHUP:
                SystemdNotify.send("RELOADING=1")
                let source = options.demo ? "embedded default config" : options.global.config
                _ = controller.reload(loadConfig(options), source: source, log: log)
                SystemdNotify.send("READY=1\nSTATUS=\(statusLine(controller, nil))")
            case SIGTERM:
                return ("SIGTERM", false)
            default:
                return ("SIGINT", false)
            }
        }
    }

    static func writeMetrics(_ controller: Controller, config: ServiceConfig, stateDir: StateDirectory, log: Log) {
        let path = config.metricsPath ?? stateDir.defaultMetrics
        do {
            try stateDir.writeAtomically(path, Array(controller.metricsText().utf8), mode: 0o644)
        } catch {
            log.warning("cannot write metrics to \(path): \(error)")
        }
    }
}
