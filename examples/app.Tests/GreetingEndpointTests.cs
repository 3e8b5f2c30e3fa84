using System.Net;
using System.Net.Http.Json;
using ExampleApp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace ExampleApp.Tests;

/// <summary>The real endpoint over HTTP on a loopback port, with the greeting configured the way the ConfigMap does it.</summary>
public sealed class GreetingEndpointTests
{
    [Fact]
    public async Task Greeting_uses_the_configured_text()
    {
        await using var app = await StartAsync(("GREETING", "Greetings from a test"));
        using var http = new HttpClient { BaseAddress = Address(app) };

        var greeting = await http.GetFromJsonAsync<Greeting>("/greeting?name=KubeDind", TestContext.Current.CancellationToken);

        Assert.NotNull(greeting);
        Assert.Equal("Greetings from a test, KubeDind!", greeting.Message);
        Assert.Equal("GREETING", greeting.Source);
    }

    [Fact]
    public async Task Greeting_falls_back_to_the_default_without_configuration()
    {
        await using var app = await StartAsync();
        using var http = new HttpClient { BaseAddress = Address(app) };

        var greeting = await http.GetFromJsonAsync<Greeting>("/greeting", TestContext.Current.CancellationToken);

        Assert.NotNull(greeting);
        Assert.Equal("Hello, world!", greeting.Message);
        Assert.Equal("default", greeting.Source);
    }

    [Fact]
    public async Task Health_endpoint_answers_ok()
    {
        await using var app = await StartAsync();
        using var http = new HttpClient { BaseAddress = Address(app) };

        var response = await http.GetAsync("/healthz", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Values_answer_503_naming_the_setting_when_no_Redis_is_configured()
    {
        await using var app = await StartAsync();
        using var http = new HttpClient { BaseAddress = Address(app) };

        var response = await http.GetAsync("/values/x", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("REDIS", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    private static async Task<WebApplication> StartAsync(params (string Key, string Value)[] settings)
    {
        var args = new List<string> { "--urls", "http://127.0.0.1:0" };
        args.AddRange(settings.Select(s => $"--{s.Key}={s.Value}"));
        var app = GreetingApp.Create([.. args]);
        await app.StartAsync(TestContext.Current.CancellationToken);
        return app;
    }

    private static Uri Address(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
}
