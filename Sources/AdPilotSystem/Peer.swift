package import AdPilotCore
import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// Who is on the other end of the control socket (SO_PEERCRED), and whether they may
/// operate the controller: root, the daemon's own user, or a member of the operators group.
package struct Peer: Sendable, Equatable {
    package let pid: Int32
    package let uid: UInt32
    package let gid: UInt32

    package init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    package static func of(socket fd: Int32) -> Peer? {
        var cred = adpilot_peer_credentials()
        guard adpilot_get_peer_credentials(fd, &cred) == 0 else { return nil }
        return Peer(pid: cred.pid, uid: cred.uid, gid: cred.gid)
    }

    package var userName: String { PosixIdentity().userName(uid) ?? "uid\(uid)" }

    /// The actor recorded in the journal for this peer's verbs.
    package var actor: Actor { .operator(uid: uid, name: userName) }

    /// `operatorsGID` nil: only root and the daemon's own user.
    package func isAuthorized(operatorsGID: UInt32?, daemonUID: UInt32) -> Bool {
        if uid == 0 || uid == daemonUID { return true }
        guard let g = operatorsGID else { return false }
        if gid == g { return true }
        return PosixIdentity().groups(ofUID: uid).contains(g)
    }
}
