#if canImport(Glibc)
import Glibc
#endif

/// A user and group, as the kernel names them.
package struct Owner: Hashable, Sendable {
    package var uid: UInt32
    package var gid: UInt32

    package init(uid: UInt32, gid: UInt32) {
        self.uid = uid
        self.gid = gid
    }
}

/// Who this process is, the user and group databases, and the privilege steps root takes
/// to act as another user: one seam, so the offline halt's ordering is tested without root.
package protocol Identity: Sendable {
    var realUID: UInt32 { get }
    var realGID: UInt32 { get }
    var effectiveUID: UInt32 { get }
    var effectiveGID: UInt32 { get }
    var pid: Int32 { get }
    /// The name of `uid` in the user database (getpwuid_r(3)).
    func userName(_ uid: UInt32) -> String?
    /// `uid`'s groups from the group database (getgrouplist(3)).
    func groups(ofUID uid: UInt32) -> [UInt32]
    /// The gid of a group name (getgrnam_r(3)), or nil when no such group exists.
    func groupID(_ name: String) -> UInt32?
    /// The owner of `path`, following links (stat(2)); nil if it cannot be read.
    func owner(of path: String) -> Owner?
    /// Root takes `owner`'s identity for its effective ids only (the saved uid stays 0, so
    /// `restoreRoot` can undo it). Returns root's supplementary groups, to restore; nil if
    /// the switch failed (and nothing changed).
    func assumeEffectively(_ owner: Owner) -> [UInt32]?
    func restoreRoot(_ groups: [UInt32])
    /// Becomes `owner` for good (groups, gid, then uid); the error names the step that failed.
    func becomePermanently(_ owner: Owner) throws(SystemError)
}

/// The process's own identity, through libc.
package struct PosixIdentity: Identity {
    package init() {}

    package var realUID: UInt32 { getuid() }
    package var realGID: UInt32 { getgid() }
    package var effectiveUID: UInt32 { geteuid() }
    package var effectiveGID: UInt32 { getegid() }
    package var pid: Int32 { getpid() }

    package func userName(_ uid: UInt32) -> String? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>? = nil
        var buffer = [CChar](repeating: 0, count: 16 << 10)
        guard getpwuid_r(uid, &pwd, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return String(cString: pwd.pw_name)
    }

    package func groups(ofUID uid: UInt32) -> [UInt32] {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>? = nil
        var buffer = [CChar](repeating: 0, count: 16 << 10)
        guard getpwuid_r(uid, &pwd, &buffer, buffer.count, &result) == 0, result != nil else { return [] }
        var count: Int32 = 256
        var groups = [gid_t](repeating: 0, count: Int(count))
        guard getgrouplist(pwd.pw_name, pwd.pw_gid, &groups, &count) >= 0 else { return [] }
        return Array(groups.prefix(Int(count)))
    }

    package func groupID(_ name: String) -> UInt32? {
        var grp = group()
        var result: UnsafeMutablePointer<group>? = nil
        var buffer = [CChar](repeating: 0, count: 64 << 10)
        guard getgrnam_r(name, &grp, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return grp.gr_gid
    }

    package func owner(of path: String) -> Owner? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Owner(uid: st.st_uid, gid: st.st_gid)
    }

    package func assumeEffectively(_ owner: Owner) -> [UInt32]? {
        var groups = [gid_t](repeating: 0, count: Int(max(0, getgroups(0, nil))))
        guard getgroups(Int32(groups.count), &groups) == groups.count else { return nil }
        var gid = owner.gid
        guard setgroups(1, &gid) == 0 else { return nil }
        guard setegid(owner.gid) == 0 else {
            restoreRoot(groups)
            return nil
        }
        guard seteuid(owner.uid) == 0 else {
            restoreRoot(groups)
            return nil
        }
        return groups
    }

    package func restoreRoot(_ groups: [UInt32]) {
        _ = seteuid(0)
        _ = setegid(0)
        _ = groups.withUnsafeBufferPointer { setgroups($0.count, $0.baseAddress) }
    }

    package func becomePermanently(_ owner: Owner) throws(SystemError) {
        var gid = owner.gid
        guard setgroups(1, &gid) == 0, setgid(owner.gid) == 0, setuid(owner.uid) == 0 else {
            throw SystemError(errno: errno, operation: "switch to uid \(owner.uid)", path: nil)
        }
    }
}
