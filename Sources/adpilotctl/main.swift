import AdPilotCore
import AdPilotSystem
#if canImport(Glibc)
import Glibc
#endif

let help = """
    adpilotctl \(AdPilotVersion.string): operate the AdPilot controller

    USAGE
      adpilotctl --help
      adpilotctl --version

    This build contains AdPilot's decision core only. The operator verbs
    (status, stage, promote, rollback, halt, resume, journal, policy) arrive with
    the daemon and the journal; see README.md, "Status".

    OPTIONS
      -h, --help      Show this help and exit.
      --version       Show the version and the linked system libraries, and exit.

    EXIT CODES
      0 done, 2 usage error
    """

let args = Array(CommandLine.arguments.dropFirst())
switch args {
case ["--help"], ["-h"]:
    print(help)
case ["--version"]:
    print("adpilotctl \(AdPilotVersion.string) (\(LinkedLibraries.summary))")
default:
    let what = args.isEmpty ? "no verb given" : "\"\(args.joined(separator: " "))\""
    FileHandle.standardError("adpilotctl: \(what): no operator verbs exist in this build yet; try --help\n")
    exit(ExitCode.usage.rawValue)
}
