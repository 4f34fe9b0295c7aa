import AdPilotControl
import AdPilotCore
import AdPilotSystem
import AdPilotTestSupport
import Foundation
import Testing

/// Sockets that fail at a chosen step, for the client's answers to each failure.
struct ScriptedSockets: SocketIO {
    var connectErrno: Int32? = nil
    var sendErrno: Int32? = nil
    var readResult: Result<[UInt8], SystemError> = .success([])

    func listen(path: String, mode: UInt32, group: UInt32?, backlog: Int32) throws(ListenError) -> FileDescriptor {
        throw .notASocket
    }
    func accept(_ listener: FileDescriptor) throws(SystemError) -> FileDescriptor {
        throw SystemError(errno: EBADF, operation: "accept", path: nil)
    }
    func connect(path: String, timeoutSeconds: Int) throws(SystemError) -> FileDescriptor {
        if let e = connectErrno { throw SystemError(errno: e, operation: "connect", path: path) }
        return FileDescriptor(rawValue: -1)
    }
    func readLine(_ fd: FileDescriptor, limit: Int, timeoutMillis: Int) throws(SystemError) -> [UInt8] {
        try readResult.get()
    }
    func writeAll(_ fd: FileDescriptor, _ bytes: [UInt8]) throws(SystemError) {
        if let e = sendErrno { throw SystemError(errno: e, operation: "send", path: nil) }
    }
    func setTimeouts(_ fd: FileDescriptor, seconds: Int) {}
    func peer(_ fd: FileDescriptor) -> Peer? { nil }
    func shutdown(_ fd: FileDescriptor) {}
    func close(_ fd: FileDescriptor) {}
    func remove(path: String) {}
}

@Suite struct ControlClientTests {
    let request = ControlRequest(verb: "status")

    func call(_ s: ScriptedSockets, path: String = "/run/adpilot/control.sock")
        -> Result<ControlResponse, ControlClient.Failure>
    {
        ControlClient.call(request, socket: path, timeoutSeconds: 3, sockets: s)
    }

    func message(_ r: Result<ControlResponse, ControlClient.Failure>) -> String {
        if case .failure(let f) = r { return f.description }
        return "success"
    }

    @Test func aRefusedConnectionIsPermissionDeniedAndAMissingDaemonUnreachable() {
        guard case .failure(.permissionDenied(let m)) = call(ScriptedSockets(connectErrno: EACCES)) else {
            Issue.record("EACCES must be permission denied"); return
        }
        #expect(m.hasSuffix("you need to be root or in the operators group"))
        guard case .failure(.unreachable(let u)) = call(ScriptedSockets(connectErrno: ENOENT)) else {
            Issue.record("ENOENT must be unreachable"); return
        }
        #expect(u.hasPrefix("the daemon is not answering at /run/adpilot/control.sock"))
    }

    /// Once the request is sent, silence is not "nothing happened": the answer says so.
    @Test func aSentRequestWithoutAnAnswerMayHaveTakenEffect() {
        let timeout = message(call(ScriptedSockets(readResult: .failure(
            SystemError(errno: ETIMEDOUT, operation: "read", path: nil)))))
        #expect(timeout.contains("no answer from the daemon at /run/adpilot/control.sock within 3 s"))
        #expect(timeout.contains("the request was sent and may have taken effect"))
        let closed = message(call(ScriptedSockets(readResult: .success([]))))
        #expect(closed.contains("closed the connection without a usable answer"))
        let unsent = message(call(ScriptedSockets(sendErrno: EPIPE)))
        #expect(unsent.hasPrefix("cannot send to /run/adpilot/control.sock: "))
    }

    @Test func aPathTooLongForASocketIsRefusedBeforeAnyCall() {
        let long = "/" + String(repeating: "x", count: 120)
        #expect(message(call(ScriptedSockets(), path: long)).hasPrefix("socket path too long (at most 107 bytes)"))
    }

    @Test func anAnswerDecodes() throws {
        let bytes = Array(#"{"v":1,"exit":0,"message":"ok"}"#.utf8)
        let r = try call(ScriptedSockets(readResult: .success(bytes))).get()
        #expect(r.exit == 0 && r.message == "ok")
    }
}

/// `halt` raises the flag itself on any outcome other than a confirmed halt.
@Suite struct HaltFallbackTests {
    func halt(answer: String) -> (Halt.Outcome, TempDir) {
        let dir = TempDir("halt-fallback")
        let sockets = ScriptedSockets(readResult: .success(Array(answer.utf8)))
        let outcome = Halt.run(
            socket: dir.path + "/control.sock", stateDir: StateDirectory(dir.path), reason: "busy daemon",
            createIfMissing: true, sockets: sockets)
        return (outcome, dir)
    }

    @Test func aBusyDaemonsRefusalStillHalts() {
        let (outcome, dir) = halt(answer: #"{"v":1,"exit":4,"message":"too many control connections; retry"}"#)
        guard case .offline(let why, let report) = outcome else {
            Issue.record("a busy daemon's answer was taken as final: \(outcome)")
            return
        }
        #expect(why.contains("did not confirm the halt (exit 4: too many control connections; retry)"))
        #expect(report.exit == .ok && StateDirectory(dir.path).isHalted)
    }

    @Test func aConfirmedHaltIsTheDaemonsAlone() {
        let (outcome, dir) = halt(answer: #"{"v":1,"exit":0,"message":"halted"}"#)
        guard case .confirmed = outcome else { Issue.record("\(outcome)"); return }
        #expect(!StateDirectory(dir.path).isHalted, "the CLI raised a flag the daemon had already raised")
    }
}
