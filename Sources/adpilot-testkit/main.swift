// adpilot-testkit: helpers that tests run as real child processes. Not installed.
//
//   adpilot-testkit journal-append DIR [SEGMENT_BYTES] [BATCH]
//       Opens the journal (recovering it) and appends forever, printing each seq on
//       stdout (flushed) only after `append` returned, i.e. after fdatasync. The parent
//       SIGKILLs it and checks that every printed seq survived.
import AdPilotCore
import AdPilotJournal
import AdPilotSystem
#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    StandardError.write("adpilot-testkit: \(message)\n")
    exit(2)
}

/// One write(2) per acknowledgement: no stdio buffer between `append` returning and the
/// parent seeing the seq.
func acknowledge(_ seq: UInt64) {
    var line = Array("\(seq)\n".utf8)
    let n = line.withUnsafeMutableBytes { write(1, $0.baseAddress, $0.count) }
    if n != line.count { exit(3) }
}

let args = Array(CommandLine.arguments.dropFirst())
guard args.first == "journal-append", args.count >= 2 else {
    fail("usage: adpilot-testkit journal-append DIR [SEGMENT_BYTES] [BATCH]")
}
var options = JournalOptions(clock: SystemClock())
if args.count >= 3, let bytes = Int64(args[2]) { options.segmentBytesMax = bytes }
let batch = args.count >= 4 ? max(1, Int(args[3]) ?? 1) : 1
options.holder = "adpilot-testkit pid \(getpid())"
do {
    let writer = try JournalWriter.open(directory: args[1], options: options)
    var i = 0
    while true {
        let entries = (0..<batch).map { k in
            JournalEntry(
                kind: "decision",
                data: Array(
                    (#"{"campaign":"c\#((i + k) % 7)","i":\#(i + k),"#
                        + #""pad":"\#(String(repeating: "x", count: (i + k) % 200))"}"#).utf8))
        }
        let refs = try writer.append(entries)
        for r in refs { acknowledge(r.seq) }
        i += batch
    }
} catch {
    fail("\(error)")
}
