import Foundation
import Synchronization

/// One random token per authenticated user, for the lifetime of the dashboard process.
///
/// Every form that changes something carries the token of the user it was served to; a POST
/// whose token is not the requesting user's is refused. A page of another origin can make the
/// browser send the user's credentials but cannot read the token, so it cannot forge an action.
final class CSRFTokens: Sendable {
    private let tokens = Mutex<[String: String]>([:])

    func token(for user: String) -> String {
        tokens.withLock { tokens in
            if let token = tokens[user] { return token }
            var generator = SystemRandomNumberGenerator()
            let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
            tokens[user] = token
            return token
        }
    }

    func isValid(_ candidate: String?, for user: String) -> Bool {
        guard let candidate, let expected = tokens.withLock({ $0[user] }) else { return false }
        return DashboardUsers.equalInConstantTime(Array(candidate.utf8), Array(expected.utf8))
    }
}
