import AdPilotCore
import AdPilotSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A Unix stream socket address, or nil when the path does not fit sun_path.
func unixAddress(_ path: String) -> sockaddr_un? {
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    let capacity = MemoryLayout.size(ofValue: addr.sun_path)
    guard !bytes.isEmpty, bytes.count < capacity else { return nil }
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
        for (i, b) in bytes.enumerated() { raw[i] = b }
    }
    return addr
}

func withSockaddr<R>(_ addr: sockaddr_un, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    var a = addr
    return withUnsafePointer(to: &a) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}

/// Reads until newline or EOF, at most `limit` bytes; EINTR is retried. Nil on timeout
/// or error.
func readLine(_ fd: Int32, limit: Int) -> [UInt8]? {
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 << 10)
    while out.count <= limit {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            return nil
        }
        if n == 0 { return out }
        if let nl = chunk[0..<n].firstIndex(of: UInt8(ascii: "\n")) {
            out += chunk[0..<nl]
            return out
        }
        out += chunk[0..<n]
    }
    return nil
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n < 0 {
            if errno == EINTR { continue }
            return false
        }
        offset += n
    }
    return true
}

func setTimeouts(_ fd: Int32, seconds: Int) {
    var tv = timeval(tv_sec: seconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
}

/// The daemon's end of the control socket: mode 0660, group from the config, one thread
/// accepting and a bounded number serving.
package final class ControlServer: @unchecked Sendable {
    package static let connectionsMax = 16
    static let requestTimeoutSeconds = 5

    package let path: String
    private let listenFD: Int32
    private let controller: Controller
    private let operatorsGID: UInt32?
    private let daemonUID = getuid()
    private let log: Log
    private let active = Guarded(0)
    private let stopping = Guarded(false)

    package init(path: String, controller: Controller, operatorsGroup: String?, log: Log) throws {
        guard let addr = unixAddress(path) else { throw StartupError("control socket path too long (at most 107 bytes): \(path); give a shorter --socket or ADPILOT_SOCKET") }
        var gid: UInt32? = nil
        if let name = operatorsGroup {
            guard let g = Peer.groupID(name) else {
                throw StartupError("operators_group \"\(name)\" does not exist (create it, e.g. systemd-sysusers, or set operators_group to null)")
            }
            gid = g
        }
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        try? PosixFileIO().makeDirectories(dir.isEmpty ? "/" : dir, mode: 0o755)
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw StartupError("\(path) exists and is not a socket; remove it") }
            unlink(path)  // a stale socket: we hold the journal lock, so no other daemon is serving it
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw StartupError("socket: \(String(cString: strerror(errno)))") }
        let oldMask = umask(0o117)
        let bound = withSockaddr(addr) { bind(fd, $0, $1) }
        umask(oldMask)
        guard bound == 0 else {
            let e = errno
            close(fd)
            throw StartupError("cannot bind the control socket \(path): \(String(cString: strerror(e)))")
        }
        // The group may operate; nobody else may even connect. (chown to a group we are
        // not in fails for an unprivileged demo; the socket then keeps our own group.)
        if let gid { _ = chown(path, UInt32.max, gid) }
        guard chmod(path, 0o660) == 0, listen(fd, 64) == 0 else {
            let e = errno
            close(fd)
            throw StartupError("cannot set up the control socket \(path): \(String(cString: strerror(e)))")
        }
        self.path = path
        self.listenFD = fd
        self.controller = controller
        self.operatorsGID = gid ?? getegid()
        self.log = log
    }

    package func start() {
        let t = Thread { [self] in acceptLoop() }
        t.name = "control-accept"
        t.start()
    }

    /// Stops accepting, then waits (bounded) for requests in flight, so a halt that
    /// arrived just before SIGTERM is journaled before the journal closes.
    package func stop() {
        stopping.with { $0 = true }
        shutdown(listenFD, Int32(SHUT_RDWR))
        unlink(path)
        for _ in 0..<(ControlServer.requestTimeoutSeconds * 100) where active.current > 0 { usleep(10_000) }
    }

    private func acceptLoop() {
        while !stopping.current {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if stopping.current { break }
                log.error("control socket accept: \(String(cString: strerror(errno)))")
                usleep(100_000)
                continue
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            let admitted = active.with { n -> Bool in
                guard n < ControlServer.connectionsMax else { return false }
                n += 1
                return true
            }
            guard admitted else {
                _ = writeAll(fd, encode(ControlResponse(exit: .unreachable, message: "too many control connections; retry")))
                close(fd)
                continue
            }
            let t = Thread { [self] in
                serve(fd)
                close(fd)
                active.with { $0 -= 1 }
            }
            t.name = "control-conn"
            t.start()
        }
        close(listenFD)
    }

    private func encode(_ r: ControlResponse) -> [UInt8] { RecordCoding.bytes(r) + [UInt8(ascii: "\n")] }

    private func serve(_ fd: Int32) {
        setTimeouts(fd, seconds: ControlServer.requestTimeoutSeconds)
        guard let peer = Peer.of(socket: fd) else { return }
        let response: ControlResponse
        if !peer.isAuthorized(operatorsGID: operatorsGID, daemonUID: daemonUID) {
            log.warning("control socket: refused uid \(peer.uid) (pid \(peer.pid)): not root or in the operators group")
            response = ControlResponse(exit: .permissionDenied,
                                       message: "permission denied: \(peer.userName) (uid \(peer.uid)) is not root or a member of the operators group")
        } else if let line = readLine(fd, limit: ControlProtocol.requestBytesMax),
                  let request = try? RecordCoding.decoder().decode(ControlRequest.self, from: Data(line)) {
            response = handle(request, peer: peer)
        } else {
            response = ControlResponse(exit: .usage, message: "malformed request: one JSON object per line, protocol v\(ControlProtocol.version)")
        }
        _ = writeAll(fd, encode(response))
    }

    /// A state machine verb's answer: what changed, or the refusal (exit 3; exit 2 for a
    /// missing reason) with what is allowed instead.
    func respond(verb: String, _ run: () throws -> Result<Transition, Refusal>) -> ControlResponse {
        do {
            switch try run() {
            case .success(let t):
                var message = "\(verb): \(t.before.mode.rawValue) -> \(t.after.mode.rawValue); live \(t.after.live?.description ?? "none"), "
                    + "candidate \(t.after.candidate?.description ?? "none"), previous \(t.after.previous?.description ?? "none")"
                if let o = t.override { message += "; GATES OVERRIDDEN (\(o.failedGates.joined(separator: ", "))): shown in status from now on" }
                if verb == "resume" { message += "; the live slot is empty: promote to let a policy write again" }
                return ControlResponse(exit: .ok, message: message)
            case .failure(let r):
                // A missing reason or an unusable policy is a bad request (2), not a refusal (3).
                let usage: Set<String> = ["reason_required", "no_such_policy", "policy_refused"]
                return ControlResponse(exit: usage.contains(r.code) ? .usage : .refused, message: r.description, refusal: r)
            }
        } catch {
            return ControlResponse(exit: .checkFailed, message: "\(verb) failed: \(error); nothing changed")
        }
    }

    func handle(_ request: ControlRequest, peer: Peer) -> ControlResponse {
        guard request.v == ControlProtocol.version else {
            return ControlResponse(exit: .usage, message: "protocol version \(request.v) not supported (daemon speaks v\(ControlProtocol.version))")
        }
        let reason = request.reason ?? ""
        switch request.verb {
        case "status":
            return ControlResponse(exit: .ok, message: "ok", status: controller.status())
        case "halt":
            guard reason.contains(where: { !$0.isWhitespace }) else {
                return ControlResponse(exit: .usage, message: "halt needs --reason TEXT: it goes into the journal")
            }
            let (t, problems) = controller.halt(actor: peer.actor, reason: reason, log: log)
            var message = t.map { $0.changed ? "halted (was \($0.before.mode.rawValue)); no budget writes until resume" : "already halted; request recorded" }
                ?? "halted: no budget writes until resume"
            if !problems.isEmpty { message += "; " + problems.joined(separator: "; ") }
            return ControlResponse(exit: .ok, message: message)
        case "resume":
            return respond(verb: "resume") { try controller.resume(actor: peer.actor, reason: reason, log: log) }
        case "stage":
            guard let text = request.policy, let id = PolicyID(text) else {
                return ControlResponse(exit: .usage, message: "stage needs a policy as NAME@VERSION (adpilotctl policy list)")
            }
            return respond(verb: "stage") { try controller.stage(id, actor: peer.actor, reason: reason, log: log) }
        case "promote":
            var gates: [GateCheck] = []
            var response = respond(verb: "promote") {
                let (result, g) = try controller.promote(overrideGates: request.overrideGates ?? false, actor: peer.actor, reason: reason, log: log)
                gates = g
                return result
            }
            response.gates = gates
            return response
        case "rollback":
            return respond(verb: "rollback") { try controller.rollback(actor: peer.actor, reason: reason, log: log) }
        default:
            return ControlResponse(exit: .usage, message: "unknown verb \(request.verb)")
        }
    }
}

/// The CLI's end of the control socket.
package enum ControlClient {
    package enum Failure: Error, CustomStringConvertible {
        /// Nobody answers at the socket (exit 4).
        case unreachable(String)
        /// The socket refused us (exit 5).
        case permissionDenied(String)

        package var description: String {
            switch self {
            case .unreachable(let m), .permissionDenied(let m): return m
            }
        }
    }

    package static func call(_ request: ControlRequest, socket path: String, timeoutSeconds: Int = 10) -> Result<ControlResponse, Failure> {
        guard let addr = unixAddress(path) else { return .failure(.unreachable("socket path too long (at most 107 bytes): \(path); give a shorter --socket or ADPILOT_SOCKET")) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(.unreachable("socket: \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        setTimeouts(fd, seconds: timeoutSeconds)
        var rc: Int32
        repeat { rc = withSockaddr(addr) { connect(fd, $0, $1) } } while rc != 0 && errno == EINTR
        if rc != 0 {
            let e = errno
            let why = String(cString: strerror(e))
            if e == EACCES || e == EPERM {
                return .failure(.permissionDenied("permission denied on \(path): \(why); you need to be root or in the operators group"))
            }
            return .failure(.unreachable("the daemon is not answering at \(path): \(why)"))
        }
        guard writeAll(fd, RecordCoding.bytes(request) + [UInt8(ascii: "\n")]) else {
            return .failure(.unreachable("cannot send to \(path): \(String(cString: strerror(errno)))"))
        }
        let line = readLine(fd, limit: ControlProtocol.responseBytesMax)
        let timedOut = line == nil && (errno == EAGAIN || errno == EWOULDBLOCK)
        guard let line, !line.isEmpty else {
            let what = timedOut ? "no answer from the daemon at \(path) within \(timeoutSeconds) s"
                : "the daemon at \(path) closed the connection without a usable answer"
            return .failure(.unreachable(what + "; the request was sent and may have taken effect: "
                + "`adpilotctl status` and `adpilotctl journal tail` show what happened"))
        }
        do {
            return .success(try RecordCoding.decoder().decode(ControlResponse.self, from: Data(line)))
        } catch {
            return .failure(.unreachable("the daemon's answer is not protocol v\(ControlProtocol.version): \(error)"))
        }
    }
}
