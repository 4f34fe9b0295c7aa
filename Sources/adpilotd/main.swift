import AdPilotControl
import AdPilotCore
import AdPilotService
import AdPilotSystem
#if canImport(Glibc)
import Glibc
#endif

let help = """
    adpilotd \(AdPilotVersion.string): the AdPilot controller daemon

    USAGE
      adpilotd [--config FILE]                      run under systemd (production)
      adpilotd --demo [--campaigns N] [--speed S]   the embedded default: simulator,
                                                    S simulated seconds per real second
      adpilotd --check-config FILE                  exit 0, or 2 with the key path and problem
      adpilotd --print-default-config               the embedded default (JSON)
      adpilotd --help | --version

    OPTIONS
      --config FILE           Config file (default /etc/adpilot/adpilot.json)
      --state-dir DIR         Journal, halt flag, snapshot (env ADPILOT_STATE_DIR;
                              default /var/lib/adpilot)
      --socket PATH           Control socket (env ADPILOT_SOCKET; default
                              /run/adpilot/control.sock)
      --credentials-dir DIR   Secrets (env CREDENTIALS_DIRECTORY, set by LoadCredential=)
      --policy-dir DIR        Also look for policies here (repeatable); --demo finds
                              the shipped ones beside the binary without it
      --campaigns N           --demo: simulated campaigns (default 20)
      --speed S               --demo: simulated seconds per real second (default 360)

    SIGNALS
      SIGTERM   finish the tick in flight, journal shutdown, exit 0
      SIGHUP    reload the config file; an invalid one is refused and the old one kept

    EXIT CODES
      0 done, 1 could not start, or the journal could not be written, 2 usage error or bad config
    """

func main() -> ExitCode {
    // argv[0] is always there. None at all means the runtime could not read the command
    // line (a /proc from another PID namespace): running on defaults would be a guess.
    guard !CommandLine.arguments.isEmpty else {
        StandardError.write(
            "adpilotd: cannot read this process's command line (/proc/self/cmdline); is /proc mounted for its PID "
                + "namespace?\n"
        )
        return .usage
    }
    let raw = Array(CommandLine.arguments.dropFirst())
    switch raw {
    case ["--help"], ["-h"]:
        print(help)
        return .ok
    case ["--version"]:
        print("adpilotd \(AdPilotVersion.string) (\(LinkedLibraries.summary))")
        return .ok
    case ["--print-default-config"]:
        print(DefaultConfig.text)
        return .ok
    default:
        break
    }
    do {
        var (global, args) = try Arguments.parse(raw)
        if let file = try args.value("--check-config") {
            guard args.isEmpty else { throw UsageError(message: "--check-config takes one file and nothing else") }
            do {
                let c = try ServiceConfig.load(path: file)
                print("\(file): ok (config digest \(c.digest.hex))")
                return .ok
            } catch {
                StandardError.write("adpilotd: \(file): \(error)\n")
                return .usage
            }
        }
        let o = try Daemon.Options.parse(&args, global: global)
        return Daemon.run(o)
    } catch let e as UsageError {
        StandardError.write("adpilotd: \(e.message)\n")
        return .usage
    } catch {
        StandardError.write("adpilotd: \(error)\n")
        return .usage
    }
}

exit(main().rawValue)
