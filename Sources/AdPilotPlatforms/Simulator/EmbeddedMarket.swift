package import AdPilotCore
package import AdPilotSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The embedded simulator as a platform that outlives the daemon process, like a real
/// one: its clock continues across restarts, and every budget write it accepts is logged
/// under `<state>/simulator/` before it answers, so a restarted daemon finds the budgets
/// its predecessor set (and reconciles the writes it never heard back from).
///
/// The log models the platform's own storage: written, not fsynced. It survives a crash
/// of the daemon (SIGKILL), not a power loss, which is all a simulator needs.
/// A simulated market that cannot be opened as asked: the message names the file and the way out.
package struct EmbeddedMarketError: Error, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}

package final class EmbeddedMarket: AdPlatform {
    package static let writeLogName = "writes.log"
    static let stateName = "market.json"
    package static let historyDays: Int64 = 3
    static let logBytesMax = 1 << 30

    struct State: Codable {
        var seed: UInt64
        var campaigns: Int
        var startMicros: Int64
        var anchorSimMicros: Int64
        var anchorWallMicros: Int64
        var speed: Double
    }

    package let simulator: MarketSimulator
    package let clock: AcceleratedClock
    package var name: String { simulator.name }
    private let logPath: String
    private let logFD: FileDescriptor
    private let io: any FileIO

    /// Opens (or creates) the market in `directory`. A market created with another seed or
    /// campaign count is refused: the operator picks a fresh state directory instead.
    package static func open(
        directory: String, seed: UInt64, campaigns: Int, speed: Double,
        wall: any TimeSource = SystemClock(), io: any FileIO = PosixFileIO()
    ) throws -> EmbeddedMarket {
        try io.makeDirectories(directory, mode: 0o750)
        let statePath = directory + "/" + stateName
        let wallNow = wall.now().microsSinceEpoch
        let hour = 3_600 * Instant.microsPerSecond
        var state: State
        if io.exists(statePath) {
            do {
                state = try JSONDecoder().decode(State.self, from: Data(try io.readFile(statePath, limit: 1 << 16)))
            } catch {
                throw EmbeddedMarketError(
                    "\(statePath): unreadable simulated market (\(error)); remove \(directory) to start a fresh one")
            }
            guard state.seed == seed, state.campaigns == campaigns else {
                throw EmbeddedMarketError(
                    "platform: the simulator in \(directory) was created with seed \(state.seed) and "
                        + "\(state.campaigns) campaigns; use the same (--campaigns \(state.campaigns)) or a fresh "
                        + "--state-dir"
                )
            }
            // Simulated time continues from where it was, at the old speed, then re-anchors.
            let elapsed = Double(max(0, wallNow - state.anchorWallMicros)) * state.speed
            state.anchorSimMicros += Int64(min(elapsed, 1e17))
        } else {
            let now = wallNow / hour * hour
            state = State(
                seed: seed, campaigns: campaigns, startMicros: now - historyDays * 24 * hour,
                anchorSimMicros: now, anchorWallMicros: wallNow, speed: speed)
        }
        state.anchorWallMicros = wallNow
        state.speed = speed
        io.removeStaleTemporaries(of: statePath)
        try io.writeAtomically(statePath, Array(try JSONEncoder().encode(state)))

        let clock = AcceleratedClock(start: Instant(microsSinceEpoch: state.anchorSimMicros), speed: speed, base: wall)
        let simulator = MarketSimulator(
            config: SimulatorConfig(
                seed: seed, campaigns: campaigns,
                start: Instant(microsSinceEpoch: state.startMicros)), clock: clock)
        let logPath = directory + "/" + writeLogName
        let fd = try io.open(logPath, flags: O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, mode: 0o640)
        let market = EmbeddedMarket(simulator: simulator, clock: clock, logPath: logPath, logFD: fd, io: io)
        try market.replay()
        return market
    }

    private init(
        simulator: MarketSimulator, clock: AcceleratedClock, logPath: String, logFD: FileDescriptor, io: any FileIO
    ) {
        self.simulator = simulator
        self.clock = clock
        self.logPath = logPath
        self.logFD = logFD
        self.io = io
    }

    deinit { io.close(logFD) }

    /// Rebuilds budgets from the write log; an unfinished last line (a crash mid-write) is
    /// cut off, as the platform never acknowledged it.
    /// One accepted budget write, as the market logged it.
    package struct Write: Sendable {
        package let at: Instant
        package let campaign: CampaignID
        package let budgetMicros: Micros
    }

    /// Rebuilds budgets from the write log; an unfinished last line (a crash mid-write) is
    /// cut off, as the platform never acknowledged it.
    private func replay() throws {
        let (writes, complete) = try Self.parse(try io.readFile(logPath, limit: Self.logBytesMax), path: logPath)
        for w in writes { try simulator.replayBudget(campaign: w.campaign, budgetMicros: w.budgetMicros, at: w.at) }
        if complete < (try io.size(logFD, path: logPath)) {
            try io.ftruncate(logFD, length: Int64(complete), path: logPath)
        }
    }

    /// The write log's entries, oldest first: what the platform received (tests read it).
    package static func writes(directory: String, io: any FileIO = PosixFileIO()) throws -> [Write] {
        let path = directory + "/" + writeLogName
        return try parse(try io.readFile(path, limit: logBytesMax), path: path).writes
    }

    /// Complete lines `<sim micros> <campaign> <budget micros>`, and the bytes they span.
    static func parse(_ bytes: [UInt8], path: String) throws -> (writes: [Write], completeBytes: Int) {
        var out: [Write] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\n") {
            let parts = bytes[start..<i].split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
            guard parts.count == 3, let at = Int64(parts[0]), let budget = Int64(parts[2]) else {
                throw EmbeddedMarketError(
                    "\(path): line \(out.count + 1) is not `<sim micros> <campaign> <budget micros>`; "
                        + "the simulated market is damaged: remove "
                        + "\(path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ".") to start a fresh one"
                )
            }
            out.append(
                Write(at: Instant(microsSinceEpoch: at), campaign: CampaignID(parts[1]), budgetMicros: Micros(budget)))
            start = i + 1
        }
        return (out, start)
    }

    // MARK: AdPlatform

    package func listCampaigns() throws(PlatformError) -> [PlatformCampaign] { try simulator.listCampaigns() }
    package func campaign(_ id: CampaignID) throws(PlatformError) -> PlatformCampaign { try simulator.campaign(id) }
    package func hourlyMetrics(campaign: CampaignID, from: Instant, to: Instant) throws(PlatformError) -> MetricsWindow
    {
        try simulator.hourlyMetrics(campaign: campaign, from: from, to: to)
    }
    package func setStatus(campaign: CampaignID, _ status: PlatformCampaign.Status) throws(PlatformError) {
        try simulator.setStatus(campaign: campaign, status)
    }

    /// The platform commits (logs) the write before it answers.
    package func setDailyBudget(campaign: CampaignID, budgetMicros: Micros) throws(PlatformError) {
        try simulator.setDailyBudget(campaign: campaign, budgetMicros: budgetMicros)
        guard simulator.storedBudget(campaign) == budgetMicros else { return }  // a silent no-op fault
        let line = Array("\(clock.now().microsSinceEpoch) \(campaign.rawValue) \(budgetMicros.rawValue)\n".utf8)
        let written: Result<Void, SystemError> = line.withUnsafeBytes { b in
            Result { () throws(SystemError) in try io.writeAll(logFD, b, path: logPath) }
        }
        if case .failure(let e) = written { throw .unavailable(detail: "simulator storage: \(e)") }
    }
}
