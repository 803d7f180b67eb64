import NIOHTTP1

/// Checks `Authorization: Bearer <token>` without leaking through timing how much of a guess
/// matched (DESIGN.md §3 "Authentication").
enum BearerToken {
    /// True when `headers` carry exactly one `Authorization` header with the Bearer scheme and a
    /// token equal to `expected`.
    static func isAuthorized(_ headers: HTTPHeaders, expected: String) -> Bool {
        let expected = Array(expected.utf8)
        guard let presented = self.presented(in: headers) else {
            // Still run a comparison so a missing header costs about as long as a wrong one.
            _ = self.constantTimeEquals(expected, expected)
            return false
        }
        return self.constantTimeEquals(presented, expected)
    }

    /// The bytes of the token in `headers`: nil unless there is exactly one `Authorization`
    /// header and it uses the Bearer scheme.
    static func presented(in headers: HTTPHeaders) -> [UInt8]? {
        let values = headers["Authorization"]
        guard values.count == 1, let token = self.token(fromAuthorization: values[0]) else { return nil }
        return Array(token.utf8)
    }

    /// The token of a `Bearer` credential; the scheme is case-insensitive (RFC 7235 §2.1).
    static func token(fromAuthorization value: String) -> Substring? {
        let trimmed = value.drop(while: { $0 == " " || $0 == "\t" })
        guard let space = trimmed.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
        guard trimmed[..<space].lowercased() == "bearer" else { return nil }
        let token = trimmed[space...].drop(while: { $0 == " " || $0 == "\t" })
        let end = token.lastIndex(where: { $0 != " " && $0 != "\t" })
        guard let end else { return nil }
        return token[...end]
    }

    /// Compares every byte of `expected` whatever the input, so the time taken depends only on
    /// the expected token's length, never on where a guess first differs.
    static func constantTimeEquals(_ presented: [UInt8], _ expected: [UInt8]) -> Bool {
        self.constantTimeDifference(presented, expected) == 0
    }

    /// Zero when `presented == expected`, non-zero otherwise; reads every byte of `expected`
    /// whatever `presented` holds (see ``constantTimeEquals(_:_:)``).
    static func constantTimeDifference(_ presented: [UInt8], _ expected: [UInt8]) -> UInt8 {
        var difference: UInt8 = presented.count == expected.count ? 0 : 1
        for index in expected.indices {
            let other: UInt8 = presented.isEmpty ? 0 : presented[index % presented.count]
            difference |= other ^ expected[index]
        }
        return difference
    }
}
