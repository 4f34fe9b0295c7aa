import AdPilotControl
import AdPilotCore
import AdPilotJournal
import AdPilotPlatforms
import AdPilotService
import AdPilotSystem
import AdPilotTestSupport
import Foundation
import Testing

/// A platform that stops answering in the middle of a budget write must not delay the kill
/// switch (issue 14, item 10): the halt is answered while the write still hangs, the write
/// already on the wire is journaled with its real outcome, and nothing new starts.
@Suite(.serialized) struct HangingWriteTests {
    static let log = Log(identifier: "test", toJournald: false)

    @Test func haltIsAnsweredWhileAWriteHangsOnTheWire() throws {
        let dir = TempDir("hang")
        var hanging: HangingWrites?
        let controller = try InProcess(dir, campaigns: 20) { market in
            hanging = try HangingWrites(market)
            return hanging!
        }.controller
        let platform = try #require(hanging)
        defer { platform.stopHolding() }
        let socket = dir.path + "/ctl.sock"
        let server = try ControlServer(path: socket, controller: controller, operatorsGroup: nil, log: Self.log)
        server.start()
        defer { server.stop() }

        let ticking = Thread { controller.tick(log: Self.log) }
        ticking.start()
        let deadline = Date().addingTimeInterval(60)
        while platform.writesReceived == 0 && Date() < deadline { usleep(1_000) }
        try #require(platform.writesReceived == 1, "the tick never put a write on the wire")

        let answer = ControlClient.call(
            ControlRequest(verb: "halt", reason: "the platform hangs", stateDir: canonicalPath(dir.path)),
            socket: socket, timeoutSeconds: 3)
        // The write is still held by the server: the halt did not wait for it.
        let halted = try #require(try? answer.get(), "\(answer)")
        #expect(halted.exit == 0, "\(halted.message)")
        #expect(halted.message.contains("a write already on the wire"), "\(halted.message)")
        #expect(!ticking.isFinished && platform.writesReceived == 1)

        platform.releaseWrites()
        while !ticking.isFinished { usleep(1_000) }
        #expect(platform.writesReceived == 1, "\(platform.writesReceived - 1) writes started after the halt")

        // The journal: decision, halt, then that decision's real outcome (confirmed), and
        // every later write of the tick skipped.
        var order: [(kind: String, seq: UInt64, data: String)] = []
        try JournalReader(directory: dir.journal).records(
            matching: RecordFilter(kinds: ["decision", "halt", "apply_result"])
        ) { r in
            order.append((r.kind, r.seq, String(decoding: r.dataBytes, as: UTF8.self)))
            return true
        }
        let haltSeq = try #require(order.first { $0.kind == "halt" }?.seq)
        let results = order.filter { $0.kind == "apply_result" }
        let confirmed = results.filter { $0.data.contains(#""status":"confirmed""#) }
        #expect(confirmed.count == 1 && confirmed.allSatisfy { $0.seq > haltSeq }, "\(results.map(\.data))")
        #expect(results.count > 1 && results.dropFirst().allSatisfy { $0.data.contains(#""status":"skipped""#) })
        controller.shutdown(reason: "test", log: Self.log)
    }
}
