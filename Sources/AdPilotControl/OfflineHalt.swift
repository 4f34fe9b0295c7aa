package import AdPilotCore
import AdPilotJournal
package import AdPilotSystem
#if canImport(Glibc)
import Glibc
#endif

/// `adpilotctl halt` when the daemon does not answer (docs/operations.md), in two steps:
/// the flag first, so the daemon (if it is merely wedged) stops before its next write; then
/// the journal record, written by the CLI itself only when the daemon does not hold the
/// writer lock. Every privilege step goes through `Identity`, so its order is tested.
package enum OfflineHalt {
    package enum Outcome {
        /// Flag raised and the halt journaled at `seq`.
        case journaled(seq: UInt64, wasMode: Mode?)
        /// Flag raised; the daemon holds the journal lock and records the halt itself when
        /// it sees the flag.
        case flagOnly(holder: String)
    }

    /// What the CLI prints and exits with.
    package struct Report: Sendable {
        package enum Line: Hashable, Sendable {
            case error(String)
            case info(String)
        }

        package var exit: ExitCode
        package var lines: [Line]
    }

    /// The whole offline halt. Root raises the flag as the state directory's owner (so it
    /// follows no link that user could plant and creates nothing the daemon cannot use),
    /// falls back to raising it as root (the kill switch must not depend on what the
    /// service account may do), and journals only as the owner: journal files root created
    /// would be unusable for the daemon.
    /// A state directory without a journal is refused unless `createIfMissing`: a mistyped
    /// `--state-dir` must not report a halt that stopped nothing.
    package static func run(stateDir: StateDirectory, reason: String, identity: any Identity,
                            createIfMissing: Bool = false) -> Report {
        if !createIfMissing && stateDir.io.probe(stateDir.journal) == ENOENT {
            return Report(exit: .checkFailed, lines: [
                .error("nothing halted: no journal at \(stateDir.journal), so \(stateDir.path) is not a state "
                    + "directory a daemon has used; check --state-dir or ADPILOT_STATE_DIR, or add --create to halt "
                    + "it all the same"),
            ])
        }
        let actor = Actor.operator(uid: identity.realUID, name: identity.userName(identity.realUID)
            ?? "uid\(identity.realUID)")
        let asRoot = identity.effectiveUID == 0
        let owner = asRoot ? identity.owner(of: stateDir.path).flatMap { $0.uid != 0 ? $0 : nil } : nil
        var lines: [Report.Line] = []
        if let failure = raiseFlagAsOwner(
            stateDir: stateDir, actor: actor, reason: reason, owner: owner, identity: identity, lines: &lines)
        {
            let denied = failure.errno == EACCES || failure.errno == EPERM
            lines.append(.error("cannot create the halt flag \(stateDir.haltFlag): \(failure)"
                + (!asRoot && denied ? "; run as root or the adpilot user" : "")))
            return Report(exit: denied ? .permissionDenied : .checkFailed, lines: lines)
        }
        let flagOnly = "halted: created \(stateDir.haltFlag); adpilotd journals the halt when it next starts"
        if let owner {
            do { try identity.becomePermanently(owner) } catch {
                lines.append(.error("cannot switch to uid \(owner.uid), the owner of \(stateDir.path): "
                    + "\(error.message)"))
                lines.append(.info(flagOnly))
                return Report(exit: .ok, lines: lines)
            }
        }
        do {
            switch try journal(stateDir: stateDir, actor: actor, reason: reason, pid: identity.pid) {
            case .journaled(let seq, let was):
                lines.append(.info("halted: created \(stateDir.haltFlag) and journaled the halt (seq \(seq), was "
                    + "\(was?.rawValue ?? "unknown")); adpilotd stays halted when it starts"))
            case .flagOnly(let holder):
                lines.append(.info("halted: created \(stateDir.haltFlag); the journal is held by \(holder), which "
                    + "stops before its next write and journals the halt itself"))
            }
        } catch {
            lines.append(.error("cannot journal the halt: \(error)"))
            lines.append(.info(flagOnly))
        }
        return Report(exit: .ok, lines: lines)
    }

    /// Step 1: the flag, as `owner` where there is one, else (or if that fails) as we are.
    static func raiseFlagAsOwner(stateDir: StateDirectory, actor: Actor, reason: String, owner: Owner?,
                                 identity: any Identity, lines: inout [Report.Line]) -> SystemError? {
        func raise() -> SystemError? {
            do {
                try raiseFlag(stateDir: stateDir, actor: actor, reason: reason, identity: identity)
            } catch {
                return error
            }
            return nil
        }
        guard let owner, let saved = identity.assumeEffectively(owner) else { return raise() }
        let failure = raise()
        identity.restoreRoot(saved)
        guard let failure else { return nil }
        lines.append(.error("as uid \(owner.uid), the owner of \(stateDir.path): \(failure); raising the flag as root"))
        return raise()
    }

    /// Raises `<state>/HALT`. Run it as the state directory's owner where possible; when
    /// root runs it, the flag is handed to that owner before it appears, so the daemon can
    /// read and remove it.
    static func raiseFlag(stateDir: StateDirectory, actor: Actor, reason: String,
                          identity: any Identity) throws(SystemError) {
        try stateDir.prepare()
        let handTo = identity.effectiveUID == 0
            ? identity.owner(of: stateDir.path).flatMap { $0.uid != 0 ? $0 : nil } : nil
        try stateDir.raiseHaltFlag(note: "halted by \(actor) (daemon unreachable): \(reason)",
                                   owner: handTo.map { ($0.uid, $0.gid) })
    }

    // Swift 6.3.1 crashes on `catch JournalError.locked(...)` patterns; match by hand.
    static func openUnlessLocked(_ dir: String, _ options: JournalOptions) -> Result<JournalWriter, JournalError> {
        do {
            return .success(try JournalWriter.open(directory: dir, options: options))
        } catch {
            return .failure(error)
        }
    }

    static func lockHolder(_ e: JournalError) -> String? {
        if case .locked(_, let holder) = e { return holder }
        return nil
    }

    /// Step 2: journals the halt, unless a daemon holds the journal. Run it as the state
    /// directory's owner where possible: a segment or lock file created by root would be
    /// unwritable for the daemon.
    static func journal(stateDir: StateDirectory, actor: Actor, reason: String, pid: Int32) throws -> Outcome {
        var options = JournalOptions(clock: SystemClock())
        options.holder = "adpilotctl halt pid \(pid)"
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
