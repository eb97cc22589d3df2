using System.Text.Json.Serialization;

namespace Lguest.Cli.Api;

/// <summary>
/// The API's JSON, generated at build time (no reflection: the NativeAOT publish stays warning-free), as strict as
/// Firecracker's serde (deny_unknown_fields): snake_case names, an unknown field, a duplicate one, a missing required
/// one, a null where a value is due or a value of the wrong type is an error.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true,
    AllowDuplicateProperties = false,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    MaxDepth = ApiRequestParser.MaxDepth)]
[JsonSerializable(typeof(ApiFault))]
[JsonSerializable(typeof(BootSource))]
[JsonSerializable(typeof(Drive))]
[JsonSerializable(typeof(NetworkInterface))]
[JsonSerializable(typeof(MachineConfiguration))]
[JsonSerializable(typeof(MachineConfigurationUpdate))]
[JsonSerializable(typeof(Vsock))]
[JsonSerializable(typeof(Entropy))]
[JsonSerializable(typeof(InstanceActionInfo))]
[JsonSerializable(typeof(VmState))]
[JsonSerializable(typeof(SnapshotCreateParams))]
[JsonSerializable(typeof(SnapshotLoadParams))]
[JsonSerializable(typeof(InstanceInfo))]
[JsonSerializable(typeof(FullVmConfiguration))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
