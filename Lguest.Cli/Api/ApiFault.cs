namespace Lguest.Cli.Api;

/// <summary>Firecracker's error body: <c>{"fault_message": "..."}</c>, one line for a person.</summary>
/// <param name="FaultMessage">What went wrong.</param>
internal sealed record ApiFault(string FaultMessage);
