public import AdPilotCore
import AdPilotJournal
import AdPilotSystem
#if canImport(Glibc)
import Glibc
#endif

/// `adpilotctl halt` when the daemon does not answer (SPEC §8): the flag first, so the
/// daemon (if it is merely wedged) stops before its next write; then the journal record,
/// written by the CLI itself only when the daemon does not hold the writer lock.
public enum OfflineHalt {
    public enum Outcome {
        /// Flag raised and the halt journaled at `seq`.
        case journaled(seq: UInt64, wasMode: Mode?)
        /// Flag raised; the daemon holds the journal lock and records the halt itself when
        /// it sees the flag.
        case flagOnly(holder: String)
    }

    /// Root writes as the state directory's owner (the service user), so the flag, the
    /// journal lock and any segment the halt creates stay readable, appendable and
    /// removable by the daemon. Irreversible for this process: `adpilotctl` exits after.
    static func actAsOwner(of path: String) throws(SystemError) {
        var st = stat()
        guard geteuid() == 0, stat(path, &st) == 0, st.st_uid != 0 else { return }
        var gid = st.st_gid
        guard setgroups(1, &gid) == 0, setgid(st.st_gid) == 0, setuid(st.st_uid) == 0 else {
            throw SystemError(errno: errno, operation: "switch to the owner (uid \(st.st_uid)) of", path: path)
        }
    }

    // Swift 6.3.1 crashes on `catch JournalError.locked(...)` patterns; match by hand.
    static func openUnlessLocked(_ dir: String, _ options: JournalOptions) -> Result<JournalWriter, JournalError> {
        do { return .success(try JournalWriter.open(directory: dir, options: options)) } catch { return .failure(error) }
    }

    static func lockHolder(_ e: JournalError) -> String? {
        if case .locked(_, let holder) = e { return holder }
        return nil
    }

    public static func run(stateDir: StateDirectory, actor: Actor, reason: String) throws -> Outcome {
        try actAsOwner(of: stateDir.path)
        try stateDir.prepare()
        try stateDir.raiseHaltFlag(note: "halted by \(actor) (daemon unreachable): \(reason)")
        var options = JournalOptions(clock: SystemClock())
        options.holder = "adpilotctl halt pid \(getpid())"
        let writer: JournalWriter
        switch openUnlessLocked(stateDir.journal, options) {
        case .success(let w): writer = w
        case .failure(let e):
            if let holder = lockHolder(e) { return .flagOnly(holder: holder) }
            throw e
        }
        defer { try? writer.close() }
        let reader = JournalReader(directory: stateDir.journal)
        let current = try ControlLog.lastState(reader)?.state ?? ControlState(modeSince: SystemClock().now())
        switch StateMachine.apply(.halt, to: current, actor: actor, reason: reason, at: SystemClock().now()) {
        case .success(let t):
            let ref = try writer.append(kind: RecordKind.halt, data: RecordCoding.bytes(TransitionRecord(t)))
            return .journaled(seq: ref.seq, wasMode: t.before.mode)
        case .failure(let refusal):
            throw refusal
        }
    }
}
