import AdPilotCore
import AdPilotControl
import AdPilotSystem
#if canImport(Glibc)
import Glibc
#endif

let help = """
    adpilotctl \(AdPilotVersion.string): operate the AdPilot controller

    USAGE
      adpilotctl status [--json] [--watch]
      adpilotctl halt --reason TEXT [--create]
      adpilotctl resume --reason TEXT
      adpilotctl stage NAME@VERSION --reason TEXT [--json]
      adpilotctl promote [--override-gates] --reason TEXT [--json]
      adpilotctl rollback --reason TEXT [--json]
      adpilotctl release CAMPAIGN --reason TEXT [--json]
      adpilotctl journal tail [-n N] [-f] [--since TIME] [--campaign ID] [--kind KIND] [--json]
      adpilotctl journal show SEQ [--json]
      adpilotctl journal verify [--key-file FILE] [--expect-head SEQ:HASH]... [--after SEQ:HASH]
      adpilotctl journal archive [--key-file FILE] [--json]
      adpilotctl policy list [--policy-dir DIR]...
      adpilotctl policy inspect NAME@VERSION [--policy-dir DIR]... [--json]
      adpilotctl policy run NAME@VERSION [--policy-dir DIR]... [--json] < ROWS
      adpilotctl policy verify DIR
      adpilotctl simulate NAME@VERSION... [--days N] [--warmup-days N] [--campaigns N]
                 [--seeds A..B] [--policy-dir DIR]... [--overlay JSON] [--json] [--svg FILE]
      adpilotctl evidence [--candidate NAME@VERSION] [--json]
      adpilotctl backtest NAME@VERSION [--since TIME] [--until TIME] [--policy-dir DIR]...
                 [--json]
      adpilotctl --help | --version

    CONTROLLER
      status    Mode and how long, policy slots with digests, the halt flag,
                overrides, the canary scope, journal head, breakers, the last
                tick, the next promotion's gates with their current values, and
                per campaign the budget, spend today and last decision. --json
                for scripts (mode, candidate, live, halt_flag, journal_head_seq,
                breakers, gates, evidence, campaigns[]); --watch refreshes every 2 s.
      halt      Stops every budget write before it returns, then journals who
                and why. If the daemon does not answer within 3 s, creates the
                halt flag <state>/HALT and journals the halt itself (unless the
                daemon still holds the journal lock: it then journals it). A
                state directory without a journal is refused (a mistyped
                --state-dir halts nothing); --create halts it all the same.
      resume    Halted -> shadow: the candidate (or the last live policy) goes
                back to shadow and the live slot is emptied; promotion earns
                trust again.
      stage     Puts a policy in the candidate slot (shadow: it decides, never
                writes). From live, returns to shadow with the new candidate.
      promote   shadow -> canary -> live, if every gate passes; prints each gate
                as name, required, measured, PASS|FAIL. --override-gates goes
                ahead anyway: journaled and shown in status from then on.
      rollback  canary -> shadow; shadow: drop the candidate, back to live;
                live: the previous policy becomes live again.
      release   Ends a campaign's quarantine: a campaign whose own anomaly
                reached critical holds its budget alone (status lists it under
                quarantined) until the detector clears it; release lets it
                follow the pipeline again from the next tick.
      Refusals exit 3 and say why and which verbs are allowed instead.

    JOURNAL
      tail      The last N records (default 10), one line each: time, seq, kind,
                campaign, mode, old -> new budget, verdict. -f follows new records
                across rotations; --since TIME shows everything since an RFC 3339
                time; --kind takes a comma-separated list; --json prints records
                verbatim (one JSON object per line, for jq).
      show      One record in full; a decision is first explained: observation,
                proposal, each layer's verdict and reason, and the platform's answer.
      verify    Checks every byte, the hash chain, seq continuity and segments;
                with --key-file (the journal-key credential) also every HMAC seal.
                Exit 0 with a summary, or 1 naming seq, segment, byte offset, problem.
                Archived segments are read as the bytes they hold. --after SEQ:HASH:
                the journal here begins after that record (older archives shipped
                off the machine and removed).
      archive   Compresses every closed segment (all but the newest) to
                journal-<seq>.jsonl.gz beside it, after verifying the whole
                journal (and its seals, with --key-file); each archive is read
                back and compared before its segment is removed. Safe while the
                daemon runs. Readers, verify and zcat read archives as segments.

    POLICY
      list      Every policy in <state>/policies, /usr/share/adpilot/policies,
                beside this binary and in any --policy-dir, with kind and digest
                (exit 1 if any is refused).
      inspect   One policy: digest, features and normalisation, output meaning,
                layers, and how it was trained.
      run       For each row of raw feature values on standard input (comma or
                space separated, in the manifest's order; # comments), prints
                the action index, the budget multiplier (or pace) and the raw
                network outputs, as the daemon computes them: for parity checks.
      verify    Loads a policy directory with every check the daemon applies.

    EVALUATION
      simulate  Runs each policy live in a whole controller (every layer, the
                journal) on the embedded simulator, walk-forward: N days (default
                7) after a warm-up (1), M campaigns (50), seeds A..B (1..3), the
                demo's targets and guardrails. Prints per policy the campaign-days
                within 3/5/10% of target (days whose ROAS allowed the target apart),
                error and bias, cap breaches, halts, quarantines, spend, value,
                profit, ROAS, daily profit mean/sd/Sharpe and maximum drawdown.
                --svg FILE draws intraday cumulative spend against the plan;
                --overlay JSON is merged over the demo configuration first.
      evidence  From the journal: each hour governed by an explored decision of
                the policy that wrote, its settled profit, and the candidate's
                shadow proposal in the same tick; the direct method, IPS, SNIPS
                and doubly robust estimates of the candidate against the writer,
                with 95% intervals (campaign-day bootstrap), effective sample
                size and support. Says plainly when nothing can be estimated.
      backtest  Replays every decision that wrote a budget in the journal (or
                between --since and --until) through the full pipeline with
                NAME@VERSION proposing: would-be budgets per campaign, each
                layer's adjustments and vetoes, and the off-policy estimates of
                NAME@VERSION against the policy that wrote.

    GLOBAL OPTIONS (before or after the verb)
      --state-dir DIR         State directory (env ADPILOT_STATE_DIR; default /var/lib/adpilot)
      --socket PATH           Control socket (env ADPILOT_SOCKET; default /run/adpilot/control.sock)
      --config FILE           Config file (default /etc/adpilot/adpilot.json)
      --credentials-dir DIR   Secrets (env CREDENTIALS_DIRECTORY)

    EXIT CODES
      0 done, 1 verification failed or a check found a problem, 2 usage error,
      3 refused, 4 daemon unreachable, 5 permission denied
    """

func main() -> ExitCode {
    // argv[0] is always there. None at all means the runtime could not read the command
    // line (a /proc from another PID namespace): running on defaults would be a guess.
    guard !CommandLine.arguments.isEmpty else {
        StandardError.write(
            "adpilotctl: cannot read this process's command line (/proc/self/cmdline); is /proc mounted for its PID "
                + "namespace?\n"
        )
        return .usage
    }
    let raw = Array(CommandLine.arguments.dropFirst())
    if raw == ["--help"] || raw == ["-h"] || raw == ["help"] {
        Out.line(help)
        return .ok
    }
    if raw == ["--version"] {
        Out.line("adpilotctl \(AdPilotVersion.string) (\(LinkedLibraries.summary))")
        return .ok
    }
    do {
        var (global, args) = try Arguments.parse(raw)
        guard let verb = args.popVerb() else {
            throw UsageError(
                message: args.isEmpty
                    ? "no verb given; try adpilotctl --help" : "unknown option \(args.tokens[0]); try adpilotctl --help"
            )
        }
        switch verb {
        case "journal":
            return try JournalCommands.run(&args, global)
        case "policy":
            return try PolicyCommands.run(&args, global)
        case "status":
            return try DaemonCommands.status(&args, global)
        case "halt":
            return try DaemonCommands.halt(&args, global)
        case "resume":
            return try DaemonCommands.resume(&args, global)
        case "stage":
            return try DaemonCommands.stage(&args, global)
        case "promote":
            return try DaemonCommands.promote(&args, global)
        case "rollback":
            return try DaemonCommands.rollback(&args, global)
        case "release":
            return try DaemonCommands.release(&args, global)
        case "simulate":
            return try SimulateCommand.run(&args, global)
        case "evidence":
            return try EvidenceCommand.run(&args, global)
        case "backtest":
            return try BacktestCommand.run(&args, global)
        default:
            throw UsageError(message: "unknown verb \(verb); try adpilotctl --help")
        }
    } catch let error as UsageError {
        Out.error(error.message)
        return .usage
    } catch {
        Out.error("\(error)")
        return .checkFailed
    }
}

exit(main().rawValue)
