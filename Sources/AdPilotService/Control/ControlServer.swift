import AdPilotControl
import AdPilotJournal
import AdPilotCore
package import AdPilotSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's end of the control socket: mode 0660, group from the config, one thread
/// accepting and a bounded number serving.
///
/// Slow or hostile clients cannot take the kill switch away: every connection has a total
/// deadline for its request (a byte every second does not stretch it), and when the
/// `connectionsMax` ordinary slots are full, `haltReserve` more serve `halt` alone, with a
/// shorter deadline.
package final class ControlServer: @unchecked Sendable {
    package static let connectionsMax = 16
    package static let haltReserve = 4
    /// How long a client has to send its whole request line.
    static let requestTimeoutSeconds = 5
    static let reserveTimeoutMillis = 1_000

    package let path: String
    private let listener: FileDescriptor
    private let sockets: any SocketIO
    private let controller: Controller
    private let operatorsGID: UInt32?
    private let daemonUID: UInt32
    /// The canonical path of the state directory this daemon serves (requests name theirs).
    private let servedStateDir: String
    private let log: Log
    /// Connections being served: ordinary slots, then the halt-only reserve.
    private let active = Guarded((ordinary: 0, reserve: 0))
    private let stopping = Guarded(false)

    package init(
        path: String, controller: Controller, operatorsGroup: String?, log: Log,
        sockets: any SocketIO = PosixSockets(), identity: any Identity = PosixIdentity()
    ) throws {
        guard sockets.fits(path) else {
            throw StartupError(
                "control socket path too long (at most 107 bytes): \(path); give a shorter --socket or ADPILOT_SOCKET")
        }
        var gid: UInt32? = nil
        if let name = operatorsGroup {
            guard let g = identity.groupID(name) else {
                throw StartupError(
                    "operators_group \"\(name)\" does not exist (create it, e.g. systemd-sysusers, or set "
                        + "operators_group to null)")
            }
            gid = g
        }
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        try? PosixFileIO().makeDirectories(dir.isEmpty ? "/" : dir, mode: 0o755)
        do {
            // A stale socket is replaced; one another daemon serves (another state directory's)
            // is left alone and this daemon refuses to start.
            listener = try sockets.listen(path: path, mode: 0o660, group: gid, backlog: 64)
        } catch {
            switch error {
            case .notASocket: throw StartupError("\(path) exists and is not a socket; remove it")
            case .inUse(let pid):
                throw StartupError(
                    "another process (\(pid.map { "pid \($0)" } ?? "pid unknown")) serves the control socket \(path); "
                        + "refusing to take it over: give this daemon its own --socket (or ADPILOT_SOCKET)")
            case .socket(let e): throw StartupError("socket: \(e.message)")
            case .bind(let e): throw StartupError("cannot bind the control socket \(path): \(e.message)")
            case .setUp(let e): throw StartupError("cannot set up the control socket \(path): \(e.message)")
            }
        }
        self.path = path
        self.sockets = sockets
        self.controller = controller
        self.operatorsGID = gid ?? identity.effectiveGID
        self.daemonUID = identity.realUID
        self.servedStateDir = canonicalPath(controller.stateDir.path)
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
        sockets.shutdown(listener)
        sockets.remove(path: path)
        for _ in 0..<(ControlServer.requestTimeoutSeconds * 100) {
            let (ordinary, reserve) = active.current
            if ordinary + reserve == 0 { break }
            usleep(10_000)
        }
    }

    private func acceptLoop() {
        while !stopping.current {
            let fd: FileDescriptor
            do {
                fd = try sockets.accept(listener)
            } catch {
                if stopping.current { break }
                log.error("control socket accept: \(error.message)")
                usleep(100_000)
                continue
            }
            let slot = active.with { n -> Slot? in
                if n.ordinary < ControlServer.connectionsMax {
                    n.ordinary += 1
                    return .ordinary
                }
                guard n.reserve < ControlServer.haltReserve else { return nil }
                n.reserve += 1
                return .haltOnly
            }
            guard let slot else {
                sockets.setTimeouts(fd, seconds: 1)
                try? sockets.writeAll(fd, encode(ControlServer.busy))
                sockets.close(fd)
                continue
            }
            let t = Thread { [self] in
                serve(fd, slot: slot)
                sockets.close(fd)
                active.with {
                    switch slot {
                    case .ordinary: $0.ordinary -= 1
                    case .haltOnly: $0.reserve -= 1
                    }
                }
            }
            t.name = "control-conn"
            t.start()
        }
        sockets.close(listener)
    }

    private func encode(_ r: ControlResponse) -> [UInt8] { RecordCoding.bytes(r) + [UInt8(ascii: "\n")] }

    private enum Slot { case ordinary, haltOnly }

    private static let busy = ControlResponse(
        exit: .unreachable, message: "too many control connections; retry (halt is still served, or halts offline)")

    private func serve(_ fd: FileDescriptor, slot: Slot) {
        sockets.setTimeouts(fd, seconds: ControlServer.requestTimeoutSeconds)
        guard let peer = sockets.peer(fd) else { return }
        let response: ControlResponse
        if !peer.isAuthorized(operatorsGID: operatorsGID, daemonUID: daemonUID) {
            log.warning("control socket: refused uid \(peer.uid) (pid \(peer.pid)): not root or in the operators group")
            response = ControlResponse(
                exit: .permissionDenied,
                message:
                    "permission denied: \(peer.userName) (uid \(peer.uid)) is not root or a member of the operators "
                        + "group"
            )
        } else {
            response = answer(fd, slot: slot, peer: peer)
        }
        try? sockets.writeAll(fd, encode(response))
    }

    /// Reads the request within the slot's deadline and handles it (the halt reserve serves
    /// nothing but halt).
    private func answer(_ fd: FileDescriptor, slot: Slot, peer: Peer) -> ControlResponse {
        let timeoutMillis =
            slot == .ordinary ? ControlServer.requestTimeoutSeconds * 1_000 : ControlServer.reserveTimeoutMillis
        let line: [UInt8]
        do {
            line = try sockets.readLine(fd, limit: ControlProtocol.requestBytesMax, timeoutMillis: timeoutMillis)
        } catch where error.errno == ETIMEDOUT {
            return ControlResponse(exit: .usage, message: "no complete request line within \(timeoutMillis) ms")
        } catch {
            return ControlResponse(exit: .usage, message: "cannot read the request: \(error.message)")
        }
        guard let request = try? RecordCoding.decoder().decode(ControlRequest.self, from: Data(line)) else {
            return ControlResponse(
                exit: .usage,
                message: "malformed request: one JSON object per line, protocol v\(ControlProtocol.version)")
        }
        return slot == .haltOnly && request.verb != "halt" ? ControlServer.busy : handle(request, peer: peer)
    }

    /// A state machine verb's answer: what changed, or the refusal (exit 3; exit 2 for a
    /// missing reason) with what is allowed instead.
    func respond(verb: String, _ run: () throws -> Result<Transition, Refusal>) -> ControlResponse {
        do {
            switch try run() {
            case .success(let t):
                var message =
                    "\(verb): \(t.before.mode.rawValue) -> \(t.after.mode.rawValue); live "
                        + "\(t.after.live?.description ?? "none"), "
                    + "candidate \(t.after.candidate?.description ?? "none"), previous "
                    + "\(t.after.previous?.description ?? "none")"
                if let o = t.override {
                    message +=
                        "; GATES OVERRIDDEN (\(o.failedGates.joined(separator: ", "))): shown in status from now on"
                }
                if verb == "resume" { message += "; the live slot is empty: promote to let a policy write again" }
                return ControlResponse(exit: .ok, message: message)
            case .failure(let r):
                // A missing reason or an unusable policy is a bad request (2), not a refusal (3).
                let usage: Set<String> = ["reason_required", "no_such_policy", "policy_refused"]
                return ControlResponse(
                    exit: usage.contains(r.code) ? .usage : .refused, message: r.description, refusal: r)
            }
        } catch {
            return ControlResponse(exit: .checkFailed, message: "\(verb) failed: \(error); nothing changed")
        }
    }

    func handle(_ request: ControlRequest, peer: Peer) -> ControlResponse {
        guard request.v == ControlProtocol.version else {
            return ControlResponse(
                exit: .usage,
                message: "protocol version \(request.v) not supported (daemon speaks v\(ControlProtocol.version))")
        }
        if let wanted = request.stateDir, wanted != servedStateDir {
            return ControlResponse(
                exit: .refused,
                message: "this daemon serves \(servedStateDir), not \(wanted): nothing done; "
                    + "check --socket and --state-dir "
                    + "(or ADPILOT_SOCKET and ADPILOT_STATE_DIR)")
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
            var message =
                t.map {
                    $0.changed
                        ? "halted (was \($0.before.mode.rawValue)); no budget writes until resume"
                        : "already halted; request recorded"
                }
                ?? "halted: no budget writes until resume"
            if !problems.isEmpty { message += "; " + problems.joined(separator: "; ") }
            return ControlResponse(exit: .ok, message: message)
        case "resume":
            return respond(verb: "resume") { try controller.resume(actor: peer.actor, reason: reason, log: log) }
        case "stage":
            guard let text = request.policy, let id = PolicyID(text) else {
                return ControlResponse(
                    exit: .usage, message: "stage needs a policy as NAME@VERSION (adpilotctl policy list)")
            }
            return respond(verb: "stage") { try controller.stage(id, actor: peer.actor, reason: reason, log: log) }
        case "promote":
            var gates: [GateCheck] = []
            var response = respond(verb: "promote") {
                let (result, g) = try controller.promote(
                    overrideGates: request.overrideGates ?? false, actor: peer.actor, reason: reason, log: log)
                gates = g
                return result
            }
            response.gates = gates
            return response
        case "rollback":
            return respond(verb: "rollback") { try controller.rollback(actor: peer.actor, reason: reason, log: log) }
        case "release":
            guard let id = request.campaign, !id.isEmpty else {
                return ControlResponse(
                    exit: .usage, message: "release needs a campaign id (adpilotctl status lists them)")
            }
            do {
                switch try controller.release(CampaignID(id), actor: peer.actor, reason: reason, log: log) {
                case .success(let message): return ControlResponse(exit: .ok, message: message)
                case .failure(let r):
                    return ControlResponse(
                        exit: r.code == "reason_required" ? .usage : .refused, message: r.description, refusal: r)
                }
            } catch {
                return ControlResponse(exit: .checkFailed, message: "release failed: \(error); nothing changed")
            }
        default:
            return ControlResponse(exit: .usage, message: "unknown verb \(request.verb)")
        }
    }
}
