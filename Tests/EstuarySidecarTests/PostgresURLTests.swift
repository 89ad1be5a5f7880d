import Foundation
import Testing

@testable import EstuarySidecar

@Suite struct PostgresURLTests {
    @Test func sslmodeFollowsLibpqAndDefaultsToPrefer() throws {
        let plain = try PostgresURL("postgres://estuary:secret@db.example:6432/central")
        #expect(plain.host == "db.example" && plain.port == 6432 && plain.user == "estuary" && plain.database == "central")
        #expect(plain.sslMode == .prefer)
        #expect(plain.masked == "postgres://estuary:***@db.example:6432/central")
        for mode in PostgresURL.SSLMode.allCases {
            #expect(try PostgresURL("postgres://db/central?sslmode=\(mode.rawValue)").sslMode == mode)
        }
        let verified = try PostgresURL("postgres://db/central?sslmode=verify-full")
        #expect(verified.masked == "postgres://postgres@db:5432/central?sslmode=verify-full")
    }

    @Test func aBadTLSSettingIsRefusedNamingIt() throws {
        func reason(_ url: String) -> String {
            do {
                _ = try PostgresURL(url)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(reason("postgres://db/central?sslmode=always").contains("sslmode=always is not one of disable, allow, prefer"))
        let missing = reason("postgres://db/central?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem")
        #expect(missing.contains("sslrootcert=/nonexistent/ca.pem"))
        #expect(reason("postgres://db/central?sslcert=/etc/hostname").contains("sslcert and sslkey go together"))
        #expect(!reason("postgres://u:hunter2@db/central?sslmode=always").contains("hunter2"), "the password stays masked")
    }

    @Test func aRootCertificateThatIsNotPEMIsNamedWhenConnecting() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-cert-\(UUID().uuidString).pem").path
        try "not a certificate".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let url = try PostgresURL("postgres://db/central?sslmode=verify-full&sslrootcert=\(file)")
        let error = #expect(throws: PostgresTLSError.self) { try url.connectionTLS() }
        #expect(error?.description.contains(file) == true)
        // disable needs no files; prefer builds an unverified context.
        _ = try PostgresURL("postgres://db/central?sslmode=disable").connectionTLS()
        _ = try PostgresURL("postgres://db/central").connectionTLS()
    }
}
