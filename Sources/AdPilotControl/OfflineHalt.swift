package import AdPilotCore
import AdPilotJournal
package import AdPilotSystem
#if canImport(Glibc)
package import Glibc
#endif

/// `adpilotctl halt` when the daemon does not answer (docs/operations.md), in two steps: the flag
/// first, so the daemon (if it is merely wedged) stops before its next write; then the
/// journal record, written by the CLI itself only when the daemon does not hold the
/// writer lock.
package enum OfflineHalt {
    package enum Outcome {
        /// Flag raised and the halt journaled at `seq`.
        case journaled(seq: UInt64, wasMode: Mode?)
        /// Flag raised; the daemon holds the journal lock and records the halt itself when
        /// it sees the flag.
        case flagOnly(holder: String)
    }

    /// Raises `<state>/HALT`. Run it as the state directory's owner where possible; when
    /// root runs it, the flag is handed to that owner before it appears, so the daemon can
    /// read and remove it.
    package static func raiseFlag(stateDir: StateDirectory, actor: Actor, reason: String) throws(SystemError) {
        try stateDir.prepare()
        let handTo = geteuid() == 0 ? owner(of: stateDir.path).flatMap { $0.uid != 0 ? $0 : nil } : nil
        try stateDir.raiseHaltFlag(note: "halted by \(actor) (daemon unreachable): \(reason)", owner: handTo)
    }

    /// The owner of `path`, or nil if it cannot be read.
    package static func owner(of path: String) -> (uid: uid_t, gid: gid_t)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (st.st_uid, st.st_gid)
    }

    // Swift 6.3.1 crashes on `catch JournalError.locked(...)` patterns; match by hand.
    static func openUnlessLocked(_ dir: String, _ options: JournalOptions) -> Result<JournalWriter, JournalError> {
        do { return .success(try JournalWriter.open(directory: dir, options: options)) } catch {
            return .failure(error)
        }
    }

    static func lockHolder(_ e: JournalError) -> String? {
        if case .locked(_, let holder) = e { return holder }
        return nil
    }

    /// Journals the halt, unless a daemon holds the journal. Run it as the state
    /// directory's owner where possible: a segment or lock file created by root would be
    /// unwritable for the daemon.
    package static func journal(stateDir: StateDirectory, actor: Actor, reason: String) throws -> Outcome {
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
