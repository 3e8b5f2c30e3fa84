using System.Text.RegularExpressions;

namespace KubeDind.Diagnostics;

/// <summary>
/// Removes credentials from text that goes into diagnostics: values of settings whose name looks like a
/// credential (PASSWORD=..., "token": "...", auth: ..., and the kubelet's Go dumps of such an env var), HTTP
/// Authorization headers, passwords in URLs, and any
/// known secret value (the data of the cluster's Secrets) wherever it appears.
/// </summary>
public static partial class Redaction
{
    public const string Marker = "<redacted>";

    /// <summary>Secret values shorter than this are not searched for: "1" or "yes" would blank half a log.</summary>
    private const int MinimumSecretLength = 4;

    public static string Redact(string text, IEnumerable<string>? secretValues = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var secret in (secretValues ?? []).Where(s => s.Length >= MinimumSecretLength).Distinct(StringComparer.Ordinal).OrderByDescending(s => s.Length))
        {
            text = text.Replace(secret, Marker, StringComparison.Ordinal);
        }

        text = AuthorizationHeader().Replace(text, m => m.Groups["head"].Value + Marker);
        text = UrlPassword().Replace(text, m => m.Groups["head"].Value + Marker + "@");
        text = GoEnvVar().Replace(text, m => m.Groups["head"].Value + Marker);
        return CredentialSetting().Replace(text, m => m.Groups["head"].Value + Marker);
    }

    // NAME=value, NAME: value, "name": "value" where the name mentions a password, secret, token, key or credential.
    [GeneratedRegex(
        """(?<head>\b[\w.-]*(?:passw(?:or)?d|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?|auth)[\w.-]*"?\s*[=:]\s*"?)(?!<redacted>)[^\s"',;}]+""",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex CredentialSetting();

    // A Go dump of an EnvVar, as the kubelet logs a container spec that failed to start:
    // EnvVar{Name:REGISTRY_PASSWORD,Value:hunter2,ValueFrom:nil,}. The value is printed unquoted (commas and all), so
    // it runs up to the ",ValueFrom:" Go always prints after it.
    [GeneratedRegex(
        """(?<head>\bName:[\w.-]*(?:passw(?:or)?d|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?|auth)[\w.-]*,Value:)(?!<redacted>)[^\n]*?(?=,ValueFrom:)""",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex GoEnvVar();

    [GeneratedRegex("""(?<head>\bAuthorization"?\s*[=:]\s*"?(?:Basic|Bearer)\s+)[^\s"',;]+""", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex AuthorizationHeader();

    [GeneratedRegex("""(?<head>\b[a-z][a-z0-9+.-]*://[^\s/:@]+:)[^\s/@]+@""", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex UrlPassword();
}
