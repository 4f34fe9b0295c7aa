import AdPilotControl
import AdPilotCore
import AdPilotJournal
import AdPilotSystem
import AdPilotTestSupport
import Foundation
import Synchronization
import Testing

/// A pretend identity: records each privilege step and what the state directory held at
/// that moment, and never really switches users.
final class RecordingIdentity: Identity, @unchecked Sendable {
    let effectiveUID: UInt32
    let effectiveGID: UInt32 = 4_242
    let realUID: UInt32 = 4_242
    let realGID: UInt32 = 4_242
    let pid: Int32 = 77
    let stateOwner: Owner?
    let assumeWorks: Bool
    let becomeFails: Bool
    let dir: TempDir
    let steps = Mutex<[String]>([])

    init(root: Bool, stateOwner: Owner?, dir: TempDir, assumeWorks: Bool = true, becomeFails: Bool = false) {
        effectiveUID = root ? 0 : 4_242
        self.stateOwner = stateOwner
        self.dir = dir
        self.assumeWorks = assumeWorks
        self.becomeFails = becomeFails
    }

    var flagExists: Bool { FileManager.default.fileExists(atPath: dir.path + "/HALT") }
    var journalExists: Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.journal)) ?? []).contains { $0.hasSuffix(".jsonl") }
    }
    func note(_ s: String) { steps.withLock { $0.append(s) } }

    func userName(_ uid: UInt32) -> String? { uid == 4_242 ? "oncall" : nil }
    func groups(ofUID uid: UInt32) -> [UInt32] { [] }
    func groupID(_ name: String) -> UInt32? { nil }
    func owner(of path: String) -> Owner? { stateOwner }
    func assumeEffectively(_ owner: Owner) -> [UInt32]? {
        note("assume \(owner.uid) flag=\(flagExists)")
        return assumeWorks ? [0] : nil
    }
    func restoreRoot(_ groups: [UInt32]) { note("restore flag=\(flagExists)") }
    func becomePermanently(_ owner: Owner) throws(SystemError) {
        note("become \(owner.uid) flag=\(flagExists) journal=\(journalExists)")
        if becomeFails { throw SystemError(errno: EPERM, operation: "setuid", path: nil) }
    }
}

/// A FileIO that records fchown instead of doing it (the tests need not run as root).
func noChownIO() -> FaultInjectingFileIO {
    let io = FaultInjectingFileIO()
    io.recordOwnerChangesOnly()
    return io
}

@Suite struct OfflineHaltTests {
    let owner = Owner(uid: 990, gid: 990)

    @Test func anOperatorHaltsAndJournalsWithoutPrivilegeSteps() throws {
        let dir = TempDir("offline-halt-user")
        let id = RecordingIdentity(root: false, stateOwner: owner, dir: dir)
        let report = OfflineHalt.run(stateDir: StateDirectory(dir.path, io: noChownIO()), reason: "bad creative",
                                     identity: id, createIfMissing: true)
        #expect(report.exit == .ok)
        #expect(report.lines == [.info("halted: created \(dir.path)/HALT and journaled the halt (seq 1, was shadow); "
            + "adpilotd stays halted when it starts")])
        #expect(id.steps.withLock { $0 }.isEmpty)
        let flag = try String(contentsOfFile: dir.path + "/HALT", encoding: .utf8)
        #expect(flag.contains("halted by oncall(4242)") || flag.contains("oncall"), "\(flag)")
        #expect(flag.contains("bad creative"))
    }

    /// Root: the flag as the owner, root restored, then the permanent switch, and only then
    /// the journal, so no journal file is ever root's.
    @Test func rootRaisesTheFlagAsTheOwnerThenJournalsAsTheOwner() throws {
        let dir = TempDir("offline-halt-root")
        let id = RecordingIdentity(root: true, stateOwner: owner, dir: dir)
        let io = noChownIO()
        let report = OfflineHalt.run(stateDir: StateDirectory(dir.path, io: io), reason: "r",
            identity: id, createIfMissing: true)
        #expect(report.exit == .ok)
        #expect(id.steps.withLock { $0 } == [
            "assume 990 flag=false", "restore flag=true", "become 990 flag=true journal=false",
        ])
        #expect(io.ownerChanges == [990], "root hands the flag to the owner before it appears")
        #expect(id.journalExists)
    }

    @Test func rootRaisesTheFlagItselfWhenItCannotBecomeTheOwner() {
        let dir = TempDir("offline-halt-noassume")
        let id = RecordingIdentity(root: true, stateOwner: owner, dir: dir, assumeWorks: false)
        let report = OfflineHalt.run(stateDir: StateDirectory(dir.path, io: noChownIO()), reason: "r",
            identity: id, createIfMissing: true)
        #expect(report.exit == .ok && id.flagExists)
        #expect(id.steps.withLock { $0 } == ["assume 990 flag=false", "become 990 flag=true journal=false"])
    }

    /// A switch that fails after the flag is up: halted all the same, nothing journaled as
    /// root, and the operator told that the daemon journals the halt when it next starts.
    @Test func aFailedSwitchLeavesTheFlagAndJournalsNothingAsRoot() {
        let dir = TempDir("offline-halt-noswitch")
        let id = RecordingIdentity(root: true, stateOwner: owner, dir: dir, becomeFails: true)
        let report = OfflineHalt.run(stateDir: StateDirectory(dir.path, io: noChownIO()), reason: "r",
            identity: id, createIfMissing: true)
        #expect(report.exit == .ok && id.flagExists && !id.journalExists)
        #expect(report.lines.last == .info("halted: created \(dir.path)/HALT; adpilotd journals the halt when it "
            + "next starts"))
        guard case .error(let text) = report.lines.first else { Issue.record("no error line"); return }
        #expect(text.hasPrefix("cannot switch to uid 990, the owner of \(dir.path): "), "\(text)")
    }

    /// A mistyped --state-dir: nothing is created and nothing claims a halt.
    @Test func aStateDirectoryWithoutAJournalIsRefusedUnlessAskedToCreate() {
        let dir = TempDir("offline-halt-typo")
        let typo = StateDirectory(dir.path + "/var/lib/adpilto")
        let id = RecordingIdentity(root: false, stateOwner: nil, dir: dir)
        let refused = OfflineHalt.run(stateDir: typo, reason: "r", identity: id)
        #expect(refused.exit == .checkFailed)
        guard case .error(let text) = refused.lines.first else { Issue.record("no error line"); return }
        #expect(text.hasPrefix("nothing halted: no journal at \(typo.journal)") && text.contains("--create"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: typo.path), "a refused halt created the directory")
        let created = OfflineHalt.run(stateDir: typo, reason: "r", identity: id, createIfMissing: true)
        #expect(created.exit == .ok && typo.isHalted)
    }

    @Test func aFlagThatCannotBeCreatedIsAFailureNamingTheFlag() {
        let dir = TempDir("offline-halt-denied")
        let io = FaultInjectingFileIO()
        io.fail(.create, after: 0, errno: EACCES)
        let id = RecordingIdentity(root: false, stateOwner: nil, dir: dir)
        let report = OfflineHalt.run(stateDir: StateDirectory(dir.path, io: io), reason: "r",
            identity: id, createIfMissing: true)
        #expect(report.exit == .permissionDenied)
        guard case .error(let text) = report.lines.last else { Issue.record("no error line"); return }
        #expect(text.hasPrefix("cannot create the halt flag \(dir.path)/HALT: "), "\(text)")
        #expect(text.hasSuffix("; run as root or the adpilot user"), "\(text)")
    }
}

/// The kill switch fails closed: only a definite "no such file" counts as no halt.
@Suite struct HaltFlagTests {
    @Test(arguments: [EACCES, EIO, ELOOP, ENOTDIR])
    func aFlagThatCannotBeCheckedCountsAsRaised(errno: Int32) {
        let dir = TempDir("unreadable-halt")
        let io = FaultInjectingFileIO()
        let state = StateDirectory(dir.path, io: io)
        #expect(!state.isHalted, "no flag, nothing injected")
        io.fail(.access, after: 0, errno: errno)
        #expect(state.isHalted, "access(2) failing with \(errno) must count as a halt")
        io.fail(.access, after: 0, errno: ENOENT)
        #expect(!state.isHalted)
    }

    /// Any entry named HALT is a halt: a directory, a dangling or looping link.
    @Test func everyKindOfEntryNamedHaltIsAHalt() throws {
        for kind in ["dangling link", "looping link", "directory", "file"] {
            let dir = TempDir("halt-entry")
            let state = StateDirectory(dir.path)
            switch kind {
            case "dangling link": #expect(symlink(dir.path + "/nowhere", state.haltFlag) == 0)
            case "looping link": #expect(symlink(state.haltFlag, state.haltFlag) == 0)
            case "directory": #expect(mkdir(state.haltFlag, 0o700) == 0)
            default: #expect(FileManager.default.createFile(atPath: state.haltFlag, contents: Data()))
            }
            #expect(state.isHalted, "a \(kind) named HALT must count as a halt")
        }
    }
}
