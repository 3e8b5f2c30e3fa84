using StackExchange.Redis;

namespace ExampleApp;

/// <summary>
/// <c>PUT /values/{key}</c> stores the request body in Redis, <c>GET /values/{key}</c> reads it back. Redis is found
/// through configuration <c>REDIS</c> (host:port; in the cluster the Service name, <c>redis:6379</c>, resolved by the
/// cluster DNS). Without it the endpoints answer 503 and the rest of the app works.
/// </summary>
public static class ValueStore
{
    public const string RedisKey = "REDIS";

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPut("/values/{key}", async (string key, HttpRequest request, IConfiguration configuration) =>
        {
            if (Database(configuration) is not { } database)
            {
                return NotConfigured();
            }

            using var reader = new StreamReader(request.Body);
            var value = await reader.ReadToEndAsync(request.HttpContext.RequestAborted);
            await database.StringSetAsync(key, value);
            return Results.NoContent();
        });
        endpoints.MapGet("/values/{key}", async (string key, IConfiguration configuration) =>
        {
            if (Database(configuration) is not { } database)
            {
                return NotConfigured();
            }

            var value = await database.StringGetAsync(key);
            return value.IsNull ? Results.NotFound() : Results.Text(value.ToString());
        });
    }

    private static IResult NotConfigured() => Results.Problem($"no Redis configured; set {RedisKey}=host:port", statusCode: StatusCodes.Status503ServiceUnavailable);

    private static readonly Lock Gate = new();
    private static ConnectionMultiplexer? _redis;
    private static string? _endpoint;

    private static IDatabase? Database(IConfiguration configuration)
    {
        var endpoint = configuration[RedisKey];
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            return null;
        }

        lock (Gate)
        {
            if (_redis is null || _endpoint != endpoint)
            {
                // abortConnect=false: connect in the background and reconnect after Redis restarts (a new pod).
                _redis = ConnectionMultiplexer.Connect($"{endpoint},abortConnect=false,connectTimeout=5000");
                _endpoint = endpoint;
            }

            return _redis.GetDatabase();
        }
    }
}
