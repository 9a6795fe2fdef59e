import LetheCore
import LetheTestSupport
import Testing

@Suite("lethe command line: basics")
struct CLIBasicsTests {
    @Test("--version prints the version")
    func version() throws {
        let result = try LetheExecutable.run(["--version"])
        #expect(result.exitCode == 0)
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == LetheVersion.current)
    }

    @Test("--help lists the commands and the exit codes")
    func help() throws {
        let result = try LetheExecutable.run(["--help"])
        #expect(result.exitCode == 0)
        #expect(result.stdout.contains("USAGE: lethe"))
        #expect(result.stdout.contains("ping"))
        #expect(result.stdout.contains("69 MongoDB unavailable"))
    }

    @Test("an unknown flag is a usage error naming the flag")
    func badFlag() throws {
        let result = try LetheExecutable.run(["ping", "--no-such-flag"])
        #expect(result.exitCode == 64)
        #expect(result.stderr.contains("--no-such-flag"))
    }

    @Test("a bad URI exits 65 and never prints the password")
    func badURI() throws {
        let result = try LetheExecutable.run(["ping", "--uri", "http://admin:TopSecret99@db.example"])
        #expect(result.exitCode == 65)
        #expect(result.stderr.contains("invalid connection string http://admin:****@db.example"))
        #expect(!result.output.contains("TopSecret99"))
    }

    @Test("an unreachable server exits 69 naming the host, after the selection timeout")
    func unreachable() throws {
        let result = try LetheExecutable.run(["ping", "--uri", "mongodb://127.0.0.1:1/", "--server-selection-timeout-ms", "300"])
        #expect(result.exitCode == 69)
        #expect(result.stderr.contains("127.0.0.1:1"))
    }

    @Test("the URI can come from LETHE_MONGODB_URI", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
    func pingFromEnvironment() throws {
        let result = try LetheExecutable.run(["ping"], environment: ["LETHE_MONGODB_URI": TestServer.uri!])
        #expect(result.exitCode == 0, "\(result.output)")
        #expect(result.stdout.contains("connected to"))
    }
}

@Suite("lethe command line: unknown commands")
struct CLISuggestionTests {
    @Test("a misspelt command is a usage error that suggests the nearest one", arguments: [("eras", "erase"), ("reciept", "receipt"), ("requets", "requests"), ("srve", "serve")])
    func didYouMean(word: String, suggestion: String) throws {
        let result = try LetheExecutable.run([word, "--user", "x"])
        #expect(result.exitCode == 64, "\(result.output)")
        #expect(result.stderr.contains("lethe has no command '\(word)'; did you mean '\(suggestion)'?"), "\(result.stderr)")
    }

    @Test("a word near no command lists them all")
    func unknown() throws {
        let result = try LetheExecutable.run(["frobnicate"])
        #expect(result.exitCode == 64)
        #expect(result.stderr.contains("lethe has no command 'frobnicate'; `lethe --help` lists them: validate, erase"), "\(result.stderr)")
    }

    @Test("`lethe run` without --once says what it needs and points at serve")
    func runWithoutOnce() throws {
        let result = try LetheExecutable.run(["run"])
        #expect(result.exitCode == 64)
        #expect(result.stderr.contains("needs --once") && result.stderr.contains("lethe serve"), "\(result.stderr)")
    }
}
