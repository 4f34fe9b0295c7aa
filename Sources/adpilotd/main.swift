import AdPilotCore
import AdPilotSystem
#if canImport(Glibc)
import Glibc
#endif

let help = """
    adpilotd \(AdPilotVersion.string): the AdPilot controller daemon

    USAGE
      adpilotd --help
      adpilotd --version

    This build contains AdPilot's decision core, audit journal, platforms and
    frozen policies, but not yet the daemon runtime (--config, --demo,
    --check-config, --print-default-config); see README.md, "Status".

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
    print("adpilotd \(AdPilotVersion.string) (\(LinkedLibraries.summary))")
default:
    let what = args.isEmpty ? "no arguments" : "\"\(args.joined(separator: " "))\""
    StandardError.write("adpilotd: \(what): the daemon runtime is not built yet; only --help and --version work in this build\n")
    exit(ExitCode.usage.rawValue)
}
