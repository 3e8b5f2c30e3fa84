using ExampleApp;

var app = GreetingApp.Create(args);
await app.RunAsync();
