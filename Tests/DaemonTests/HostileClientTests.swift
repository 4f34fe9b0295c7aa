import AdPilotControl
import AdPilotService
import AdPilotSystem
import AdPilotTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Clients that hold the control socket on purpose: connected, never finishing a request,
/// sending a byte often enough that no idle timeout fires (issue 14, item 2).
@Suite struct HostileClientTests {
    /// Connections that send one byte (never a newline) every `everyMillis`, until the
    /// daemon closes them; each records when that happened.
    final class Tricklers: @unchecked Sendable {
        let closedAt = Guarded<[Int: Date]>([:])
        let stop = Guarded(false)

        init(socket: String, count: Int, everyMillis: UInt32) throws {
            for i in 0..<count {
                let fd = try PosixSockets().connect(path: socket, timeoutSeconds: 5)
                let t = Thread { [closedAt, stop] in
                    defer { PosixSockets().close(fd) }
                    while !stop.current {
                        // A closed peer shows as a failed send or as readable end of file.
                        var pfd = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
                        let hungUp = poll(&pfd, 1, Int32(everyMillis)) > 0
                        if hungUp || (try? PosixSockets().writeAll(fd, [UInt8(ascii: "{")])) == nil {
                            closedAt.with { $0[i] = Date() }
                            return
                        }
                    }
                }
                t.start()
            }
        }

        deinit { stop.with { $0 = true } }
    }

    /// With every ordinary slot held, halt is still served by the daemon itself (not the
    /// CLI's offline fallback); other verbs are told to retry; and every held connection is
    /// closed by its total deadline although it never goes idle.
    @Test func haltIsServedWhileEveryConnectionSlotIsHeld() throws {
        try haltIsServedWhileEveryConnectionSlotIsHeld(attempt: 1)
    }

    func haltIsServedWhileEveryConnectionSlotIsHeld(attempt: Int) throws {
        try #require(attempt <= 3, "three attempts, and never were all 16 slots held at once")
        let d = try DaemonUnderTest("slots-\(attempt)")
        try d.start()
        #expect(d.waitUntilServing() != nil)
        let started = Date()
        let holders = try Tricklers(socket: d.socket, count: ControlServer.connectionsMax, everyMillis: 200)
        // In-process, at once, what `adpilotctl status` and `halt` run: the daemon accepts in
        // order, so these come after the 16 holders, well inside their 5 s (a child process
        // could start too late on a loaded machine).
        let stateDir = StateDirectory(canonicalPath(d.stateDir))
        let status = ControlClient.call(ControlRequest(verb: "status", stateDir: stateDir.path), socket: d.socket)
        guard case .success(let busy) = status else { Issue.record("\(status)"); return }
        if busy.exit == 0 {
            // Served: a slot was free. On a starved machine a holder can reach its deadline,
            // or be slow to connect, before the probe; a daemon that never fills its slots
            // serves all three attempts, and the test fails.
            let setup = Date().timeIntervalSince(started)
            print("slots: the probe was served on attempt \(attempt) (setup took \(setup) s)")
            return try haltIsServedWhileEveryConnectionSlotIsHeld(attempt: attempt + 1)
        }
        #expect(busy.exit == 4 && busy.message.contains("too many control connections"), "\(busy)")
        let halt = Halt.run(
            socket: d.socket, stateDir: stateDir, reason: "slots held by a hostile client", createIfMissing: false)
        guard case .confirmed(let answer) = halt else {
            Issue.record("the daemon did not serve the halt: \(halt)")
            return
        }
        #expect(answer.message.contains("halted (was shadow)"), "\(answer.message)")
        let halts = try d.records(kinds: ["halt"]).map { d.data($0) }
        #expect(halts.count == 1 && halts.first?["actor_name"] as? String != "system", "halts journaled: \(halts)")

        // Each holder is cut off at its total deadline (5 s), not kept alive by its trickle.
        let deadline = Date().addingTimeInterval(30)
        while holders.closedAt.current.count < ControlServer.connectionsMax && Date() < deadline { usleep(50_000) }
        let closed = holders.closedAt.current
        #expect(closed.count == ControlServer.connectionsMax, "only \(closed.count) held connections were closed")
        for (i, at) in closed {
            #expect(at.timeIntervalSince(started) < 15, "connection \(i) held for \(at.timeIntervalSince(started)) s")
        }
        #expect(try d.ctl(["status"]).status == 0, "the socket did not recover once the holders were cut off")
        #expect(d.stop() == 0)
    }
}
