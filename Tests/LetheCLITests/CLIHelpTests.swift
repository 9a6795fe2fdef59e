import LetheTestSupport
import Testing

@Suite("lethe <command> --help: each command lists only the options it uses")
struct CLIHelpTests {
    static let erasureFlags = ["--batch-size", "--max-documents"]

    @Test("commands that erase nothing and read no inbox do not list --batch-size, --max-documents or --inbox",
          arguments: [["receipt"], ["requests"], ["report"], ["audit"], ["refusals"], ["hold", "add"], ["hold", "list"],
                      ["hold", "remove"], ["retry"], ["ping"], ["enqueue"]])
    func withoutErasureOptions(command: [String]) throws {
        let help = try LetheExecutable.run(command + ["--help"])
        #expect(help.exitCode == 0, "\(help.output)")
        #expect(help.stdout.contains("USAGE: lethe \(command.joined(separator: " "))"), "\(help.stdout)")
        for flag in Self.erasureFlags + ["--inbox"] {
            #expect(!help.stdout.contains(flag), "lethe \(command.joined(separator: " ")) --help lists \(flag)")
        }
    }

    @Test("only sweep and serve list --sweep-batch-size", arguments: [(["sweep"], true), (["serve"], true), (["erase"], false), (["run"], false), (["plan"], false)])
    func sweepBatchSize(command: [String], lists: Bool) throws {
        let help = try LetheExecutable.run(command + ["--help"])
        #expect(help.exitCode == 0, "\(help.output)")
        #expect(help.stdout.contains("--sweep-batch-size") == lists, "\(help.stdout)")
        if lists {
            let zero = try LetheExecutable.run(command + ["--sweep-batch-size", "0"])
            #expect(zero.exitCode == 64 && zero.stderr.contains("--sweep-batch-size must be at least 1"), "\(zero.output)")
        }
    }

    @Test("commands that erase list --batch-size and --max-documents; only run and serve list --inbox",
          arguments: [(["erase"], false), (["approve"], false), (["plan"], false), (["sweep"], false), (["run"], true), (["serve"], true)])
    func withErasureOptions(command: [String], readsInbox: Bool) throws {
        let help = try LetheExecutable.run(command + ["--help"])
        #expect(help.exitCode == 0, "\(help.output)")
        for flag in Self.erasureFlags {
            #expect(help.stdout.contains(flag), "lethe \(command.joined(separator: " ")) --help lacks \(flag)")
        }
        #expect(help.stdout.contains("--inbox") == readsInbox)
        #expect(help.stdout.contains("--state-db"))
    }

    @Test("commands that print records take --format; the old --json is hidden",
          arguments: [["requests"], ["refusals"], ["hold", "list"], ["audit"], ["receipt"], ["plan"]])
    func format(command: [String]) throws {
        let help = try LetheExecutable.run(command + ["--help"])
        #expect(help.exitCode == 0, "\(help.output)")
        #expect(help.stdout.contains("--format"), "lethe \(command.joined(separator: " ")) --help lacks --format")
        #expect(!help.stdout.contains("--json"))
    }
}
