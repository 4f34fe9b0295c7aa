// make bench: figures for docs/performance.md. Prints what it measured and
// on what machine; asserts nothing (performance is measured here, not in unit tests).
//
//   adpilot-bench [core] [journal] [simulator] [policy] [daemon] [startup] [hang] [reads] [evaluation]
//                 [--journal-dir DIR] [--verify-bytes N] [--campaigns N]
#if canImport(Glibc)
import Glibc
#endif
import AdPilotService
import Foundation

var which = Set<String>()
var journalDir = "/tmp"
var verifyBytes: Int64 = 1 << 30
var campaigns = 10_000
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "core", "journal", "simulator", "policy", "daemon", "startup", "hang", "reads", "evaluation": which.insert(a)
    case "--journal-dir": journalDir = args.isEmpty ? journalDir : args.removeFirst()
    case "--verify-bytes": verifyBytes = args.isEmpty ? verifyBytes : Int64(args.removeFirst()) ?? verifyBytes
    case "--campaigns": campaigns = args.isEmpty ? campaigns : Int(args.removeFirst()) ?? campaigns
    default:
        print(
            "usage: adpilot-bench [core] [journal] [simulator] [policy] [daemon] [startup] [hang] [reads] [evaluation] "
                + "[--journal-dir DIR] "
                + "[--verify-bytes N] [--campaigns N (daemon; default 10000)]")
        exit(2)
    }
}
let groups = ["core", "journal", "simulator", "policy", "daemon", "startup", "hang", "reads", "evaluation"]
if which.isEmpty { which = Set(groups) }
print("AdPilot benchmarks (release build)")
print("machine: \(machine())")
if which.contains("core") { benchCore() }
if which.contains("journal") { benchJournal(in: journalDir, verifyBytes: verifyBytes) }
if which.contains("simulator") { benchSimulator() }
if which.contains("policy") { benchPolicies(policiesDir: "Policies") }
if which.contains("daemon") {
    benchDaemon(
        base: journalDir, policiesDir: FileManager.default.currentDirectoryPath + "/Policies", campaigns: campaigns)
}
if which.contains("startup") {
    benchStartupAndArchive(
        base: journalDir, policiesDir: FileManager.default.currentDirectoryPath + "/Policies",
        journalBytes: verifyBytes)
}
if which.contains("hang") {
    benchHaltWhileWriteHangs(
        base: journalDir, policiesDir: FileManager.default.currentDirectoryPath + "/Policies",
        quiet: Log(identifier: "bench", toJournald: false))
}
if which.contains("reads") {
    benchReads(
        base: journalDir, policiesDir: FileManager.default.currentDirectoryPath + "/Policies",
        quiet: Log(identifier: "bench", toJournald: false))
}
if which.contains("evaluation") {
    benchEvaluation(base: journalDir, policiesDir: FileManager.default.currentDirectoryPath + "/Policies")
}
