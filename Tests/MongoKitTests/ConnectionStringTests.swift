import MongoKit
import Testing

@Suite("Connection strings")
struct ConnectionStringTests {
    @Test("URI options pass through and hosts are read")
    func validURI() throws {
        let uri = try ConnectionString("mongodb://app:s3cret@db1.example:27018,db2.example/?replicaSet=rs0&authSource=admin&tls=true&serverSelectionTimeoutMS=500")
        #expect(uri.hosts == ["db1.example:27018", "db2.example:27017"])
        #expect(uri.description == "mongodb://app:****@db1.example:27018,db2.example/?replicaSet=rs0&authSource=admin&tls=true&serverSelectionTimeoutMS=500")
    }

    @Test("an empty string says what is expected and where to set it")
    func empty() throws {
        let error = try #require(throws: MongoError.self) { try ConnectionString("  ") }
        #expect(error.code == .invalidURI)
        #expect(error.description.contains("LETHE_MONGODB_URI"))
    }

    @Test("a bad URI is a clear error that never echoes the password", arguments: [
        "http://user:hunter2pass@localhost",
        "mongodb://user:hunter2pass@",
        "mongodb://user:hunter2pass@localhost:99999",
        "mongodb://user:hunter2pass@localhost/?w=majority&journal=maybe&authMechanism=SCRAM-SHA-1&authSource=",
        "mongodb+srv://user:hunter2pass@host1,host2/",
    ])
    func badURI(uri: String) throws {
        let error = try #require(throws: MongoError.self) { try ConnectionString(uri) }
        #expect(error.code == .invalidURI)
        #expect(error.description.contains("invalid connection string"))
        #expect(!error.description.contains("hunter2pass"))
        #expect(!error.debugDescription.contains("hunter2pass"))
    }

    @Test("unacknowledged writes (w=0) are refused, naming the option and never the password; other write concerns pass")
    func unacknowledged() throws {
        let error = try #require(throws: MongoError.self) { try ConnectionString("mongodb://app:hunter2pass@db.example/?w=0") }
        #expect(error.code == .invalidURI)
        #expect(error.description.contains("w=0"))
        #expect(!error.description.contains("hunter2pass"))
        for fine in ["mongodb://db.example/?w=1", "mongodb://db.example/?w=majority&journal=true", "mongodb://db.example/"] {
            #expect(throws: Never.self) { try ConnectionString(fine) }
        }
    }

    @Test("redaction hides only the password")
    func redact() {
        #expect(ConnectionString.redact("mongodb+srv://u:p%40ss@cluster0.example.net/db?retryWrites=true")
            == "mongodb+srv://u:****@cluster0.example.net/db?retryWrites=true")
        #expect(ConnectionString.redact("mongodb://localhost:27017") == "mongodb://localhost:27017")
        #expect(ConnectionString.redact("mongodb://onlyuser@localhost") == "mongodb://onlyuser@localhost")
    }
}
