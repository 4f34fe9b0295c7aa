// adpilot-man: the man pages and the bash completion, generated at build time from what
// the binaries print for --help and from docs/configuration.md, so that neither can drift
// from its source (docs/operations.md#man-pages-and-completion). Not installed.
//
//   adpilotd --help   | adpilot-man help adpilotd 8 > adpilotd.8
//   adpilotctl --help | adpilot-man help adpilotctl 1 > adpilotctl.1
//   adpilot-man config docs/configuration.md > adpilot.json.5
//   adpilotctl --help | adpilot-man completion > adpilotctl.bash
import Foundation

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("adpilot-man: \(message)\n".utf8))
    exit(2)
}

func readStandardInput() -> String {
    String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
}

let args = Array(CommandLine.arguments.dropFirst())
switch args.first {
case "help" where args.count == 3:
    let text = readStandardInput()
    guard !text.isEmpty else { fail("help: nothing on standard input (pipe the binary's --help)") }
    print(ManPage.fromHelp(text, name: args[1], section: args[2]), terminator: "")
case "config" where args.count == 2:
    guard let text = try? String(contentsOfFile: args[1], encoding: .utf8) else {
        fail("config: cannot read \(args[1])")
    }
    print(ManPage.fromConfigReference(text), terminator: "")
case "completion" where args.count == 1:
    print(Completion.bash(fromHelp: readStandardInput()), terminator: "")
default:
    fail("usage: adpilot-man help NAME SECTION < HELP | config CONFIGURATION.md | completion < HELP")
}
