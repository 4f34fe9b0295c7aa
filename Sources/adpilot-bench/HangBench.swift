// Halt latency while a platform write hangs: every budget write goes over real HTTP
// (libcurl, the production client) to a loopback server that holds it until released.
import AdPilotControl
import AdPilotCore
import AdPilotPlatforms
import AdPilotService
import AdPilotSystem
import AdPilotTestSupport
import Foundation

/// Each round, on a fresh state directory (a resume empties the live slot, so a halted
/// controller writes no more): a tick runs until its first write is on the wire and held
/// there; a halt through the real socket is timed until its reply; then the write is
/// released and the tick finishes, having started no other write.
func benchHaltWhileWriteHangs(base: String, policiesDir: String, quiet: Log) {
    do {
        let config = try benchConfig(campaigns: 100, policiesDir: policiesDir)
        var latencies: [Double] = []
        for round in 0..<100 { latencies.append(try haltRound(round, config, base: base, quiet: quiet)) }
        say(
            String(
                format: "halt through the socket while a budget write hangs on a loopback HTTP server: p50 %.2f ms, "
                    + "p99 %.2f ms, max %.2f ms (%d halts; no write started after any reply)",
                percentile(latencies, 0.5), percentile(latencies, 0.99), latencies.max() ?? 0, latencies.count))
    } catch {
        say("hanging-write bench failed: \(error)")
    }
}

private func haltRound(_ round: Int, _ config: ServiceConfig, base: String, quiet: Log) throws -> Double {
    let dir = tempDirectory(base, "hang")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    guard case .simulator(let seed, let n) = config.platform else { fatalError("simulator config expected") }
    let market = try EmbeddedMarket.open(directory: dir + "/simulator", seed: seed, campaigns: n, speed: 600)
    let platform = try HangingWrites(market)
    defer { platform.stopHolding() }
    let controller = try Controller.start(
        config: config, stateDir: StateDirectory(dir), platform: platform, clock: market.clock, sealKey: nil,
        log: quiet)
    defer { controller.shutdown(reason: "bench", log: quiet) }
    let socket = dir + "/ctl.sock"
    let server = try ControlServer(path: socket, controller: controller, operatorsGroup: nil, log: quiet)
    server.start()
    defer { server.stop() }

    let ticking = Thread { controller.tick(log: quiet) }
    ticking.start()
    while platform.writesReceived == 0 && !ticking.isFinished { usleep(200) }
    guard platform.writesReceived == 1 else { throw BenchError("round \(round): the tick wrote nothing") }
    let request = ControlRequest(verb: "halt", reason: "bench: the platform hangs", stateDir: canonicalPath(dir))
    let t0 = DispatchTime.now().uptimeNanoseconds
    let r = ControlClient.call(request, socket: socket, timeoutSeconds: 10)
    let millis = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
    guard case .success(let ok) = r, ok.exit == 0 else { throw BenchError("round \(round): halt failed: \(r)") }
    platform.releaseWrites()
    while !ticking.isFinished { usleep(200) }
    guard platform.writesReceived == 1 else { throw BenchError("round \(round): a write started after the halt") }
    return millis
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
