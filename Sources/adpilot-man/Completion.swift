/// Bash completion for adpilotctl from its --help USAGE lines: verbs, subverbs, each one's
/// options, which options take a value, and what kind of value (files, directories,
/// policies).
enum Completion {
    struct Command {
        var path: [String]
        var options: [String] = []
        var positional: String?
    }

    /// Global options take a value and may come before or after the verb.
    static func parse(_ help: String) -> (commands: [Command], valued: [String: String], global: [String]) {
        var usage: [String] = []
        var global: [String] = [], valued: [String: String] = [:]
        var section = ""
        for line in help.split(separator: "\n").map(String.init) {
            if ManPage.isHeading(line) {
                section = line
                continue
            }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if section == "USAGE" {
                if trimmed.hasPrefix("adpilotctl ") {
                    usage.append(String(trimmed.dropFirst("adpilotctl ".count)))
                } else if let last = usage.indices.last {
                    usage[last] += " " + trimmed
                }
            } else if section.hasPrefix("GLOBAL OPTIONS"), let m = trimmed.firstMatch(of: #/^(--[a-z-]+) ([A-Z]+)/#) {
                global.append(String(m.output.1))
                valued[String(m.output.1)] = String(m.output.2)
            }
        }
        var commands: [Command] = []
        for line in usage where !line.hasPrefix("--help") {
            var tokens = line.replacingOccurrences(of: "[", with: " ").replacingOccurrences(of: "]", with: " ")
                .split(separator: " ").map(String.init)[...]
            var c = Command(path: [])
            while let t = tokens.first, t.first?.isLowercase == true {
                c.path.append(t)
                tokens.removeFirst()
            }
            while let t = tokens.popFirst() {
                if t.hasPrefix("-") {
                    if !c.options.contains(t) { c.options.append(t) }
                    if let v = tokens.first, v.first?.isUppercase == true {
                        valued[t] = String(v.prefix { $0 != "." })
                        tokens.removeFirst()
                    }
                } else if c.positional == nil {
                    c.positional = String(t.prefix { $0 != "." || t.hasPrefix("A..") })
                }
            }
            commands.append(c)
        }
        return (commands, valued, global)
    }

    static func bash(fromHelp help: String) -> String {
        let (commands, valued, global) = parse(help)
        let verbs = uniqued(commands.compactMap(\.path.first))
        var out = """
            # bash completion for adpilotctl, generated from `adpilotctl --help` by adpilot-man.
            _adpilotctl() {
                local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
                local verb="" sub="" i w skip=0
                for ((i = 1; i < COMP_CWORD; i++)); do
                    w=${COMP_WORDS[i]}
                    if ((skip)); then skip=0; continue; fi
                    case $w in
                        \(valued.keys.sorted().joined(separator: "|"))) skip=1 ;;
                        -*) ;;
                        *) if [[ -z $verb ]]; then verb=$w; elif [[ -z $sub ]]; then sub=$w; fi ;;
                    esac
                done
                case $prev in

            """
        let byKind = Dictionary(grouping: valued.keys.sorted(), by: { valued[$0]! }).sorted { $0.key < $1.key }
        for (kind, options) in byKind {
            out += "        \(options.joined(separator: "|"))) \(valueCompletion(kind)); return ;;\n"
        }
        out += """
                esac
                local words="" positional=""
                case "$verb $sub" in

            """
        for c in commands where c.path.count == 2 {
            out += "        \"\(c.path.joined(separator: " "))\") words=\"\(c.options.joined(separator: " "))\""
            out += "; positional=\(c.positional ?? "") ;;\n"
        }
        for (verb, subs) in subverbs(commands) {
            out += "        \"\(verb) \") words=\"\(subs.joined(separator: " "))\" ;;\n"
        }
        for c in commands where c.path.count == 1 {
            out += "        \"\(c.path[0]) \"*) words=\"\(c.options.joined(separator: " "))\""
            out += "; positional=\(c.positional ?? "") ;;\n"
        }
        out += """
                    " ") words="\(verbs.joined(separator: " ")) --help --version" ;;
                esac
                [[ $cur == -* ]] && words="$words \(global.joined(separator: " "))"
                COMPREPLY=($(compgen -W "$words" -- "$cur"))
                case $positional in
                    NAME@VERSION) [[ $cur != -* ]] && COMPREPLY+=($(_adpilotctl_policies "$cur")) ;;
                    DIR) [[ $cur != -* ]] && COMPREPLY+=($(compgen -d -- "$cur")) ;;
                esac
            }

            # Policies as `adpilotctl policy list` prints them (first column), with the same state directory.
            _adpilotctl_policies() {
                local state=() i
                for ((i = 1; i < COMP_CWORD; i++)); do
                    [[ ${COMP_WORDS[i]} == --state-dir ]] && state=(--state-dir "${COMP_WORDS[i+1]}")
                done
                compgen -W "$(adpilotctl "${state[@]}" policy list 2>/dev/null | awk '{print $1}')" -- "$1"
            }

            complete -F _adpilotctl adpilotctl

            """
        return out
    }

    static func valueCompletion(_ kind: String) -> String {
        switch kind {
        case "DIR": return "COMPREPLY=($(compgen -d -- \"$cur\"))"
        case "FILE", "PATH": return "COMPREPLY=($(compgen -f -- \"$cur\"))"
        case "NAME@VERSION": return "COMPREPLY=($(_adpilotctl_policies \"$cur\"))"
        case "KIND":
            let kinds = "startup shutdown config policy_loaded decision apply_result transition halt resume breaker"
                + " anomaly reconcile tick_failed unreadable quarantine reward"
            return "COMPREPLY=($(compgen -W \"\(kinds)\" -- \"$cur\"))"
        default: return "COMPREPLY=()"
        }
    }

    static func subverbs(_ commands: [Command]) -> [(String, [String])] {
        let verbs = uniqued(commands.filter { $0.path.count == 2 }.map { $0.path[0] })
        return verbs.map { v in (v, commands.filter { $0.path.count == 2 && $0.path[0] == v }.map { $0.path[1] }) }
    }

    static func uniqued(_ items: [String]) -> [String] {
        var seen = Set<String>()
        return items.filter { seen.insert($0).inserted }
    }
}
