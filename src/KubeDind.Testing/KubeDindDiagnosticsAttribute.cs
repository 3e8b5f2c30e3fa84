using System.Reflection;
using Xunit;
using Xunit.v3;

namespace KubeDind.Testing;

/// <summary>
/// After a test that failed, writes a diagnostics bundle of every running <see cref="KubeDindFixture"/> (or only of
/// <see cref="FixtureType"/>) and puts its summary, the pods and the newest events into that test's output.
/// Put it on a test class, a test method or the assembly (<c>[assembly: KubeDindDiagnostics]</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method | AttributeTargets.Assembly, AllowMultiple = false)]
public sealed class KubeDindDiagnosticsAttribute : BeforeAfterTestAttribute
{
    public KubeDindDiagnosticsAttribute(Type? fixtureType = null) => FixtureType = fixtureType;

    public Type? FixtureType { get; }

    /// <summary>How long collecting may take before the test's result is reported anyway.</summary>
    public int TimeoutSeconds { get; set; } = 120;

    public override void After(MethodInfo methodUnderTest, IXunitTest test)
    {
        var context = TestContext.Current;
        if (context.TestState?.Result != TestResult.Failed)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(TimeoutSeconds));
        foreach (var fixture in KubeDindFixture.Started.Where(f => FixtureType is null || FixtureType.IsInstanceOfType(f)))
        {
            // BeforeAfterTestAttribute.After is synchronous; the test has finished, so blocking here delays only its report.
            fixture.WriteDiagnosticsAsync(context.TestOutputHelper, timeout.Token).GetAwaiter().GetResult();
        }
    }
}
