namespace ExampleApp;

/// <summary>The greeting returned by <c>GET /greeting</c>.</summary>
/// <param name="Message">The configured greeting followed by the name asked for.</param>
/// <param name="Source">Where the greeting came from: the configuration key's value, or "default".</param>
/// <param name="Host">The machine (pod) that answered.</param>
public sealed record Greeting(string Message, string Source, string Host);

/// <summary>
/// A minimal API whose greeting text is configuration (<c>GREETING</c>): in the cluster it comes from the
/// ConfigMap <c>example-app-config</c> through the Deployment's environment, so the system test can prove
/// the ConfigMap reached the pod.
/// </summary>
public static class GreetingApp
{
    public const string GreetingKey = "GREETING";
    public const string DefaultGreeting = "Hello";

    public static WebApplication Create(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        var app = builder.Build();
        Map(app);
        return app;
    }

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", () => Results.Text("ok"));
        endpoints.MapGet("/greeting", (IConfiguration configuration, string? name) => Greet(configuration, name));
        ValueStore.Map(endpoints);
    }

    public static Greeting Greet(IConfiguration configuration, string? name)
    {
        var configured = configuration[GreetingKey];
        var greeting = string.IsNullOrWhiteSpace(configured) ? DefaultGreeting : configured.Trim();
        var who = string.IsNullOrWhiteSpace(name) ? "world" : name.Trim();
        return new Greeting($"{greeting}, {who}!", string.IsNullOrWhiteSpace(configured) ? "default" : GreetingKey, Environment.MachineName);
    }
}
