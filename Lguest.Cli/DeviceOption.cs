using Lguest.Devices;

namespace Lguest.Cli;

/// <summary>One device option as given, in command-line order: the guest's PCI slots follow this order, after the console.</summary>
/// <param name="Kind">Which device.</param>
/// <param name="Value">The option's value as typed (the image, the tunnet spec), or null for <c>--rng</c>.</param>
/// <param name="Tunnet">For <c>--tunnet</c>, the parsed value.</param>
/// <param name="ReadOnly">For <c>--block=ro:FILE</c>: the disk is offered read-only and its image opened read-only; for <c>--share=DIR:TAG:ro</c>, the share refuses changes.</param>
/// <param name="Tag">For <c>--share</c>, the tag the guest mounts it by (<see cref="Value"/> is the folder).</param>
/// <param name="GuestCid">For <c>--vsock=PATH[:CID]</c>, the guest's CID (<see cref="Value"/> is the socket's path).</param>
/// <param name="Mac">For a tap from the API, the guest's MAC address (null: random).</param>
/// <param name="IoEngine">For a drive from the API, its own I/O engine (null: <c>--io-engine</c>'s).</param>
internal sealed record DeviceOption(DeviceKind Kind, string? Value, TunnetSpec? Tunnet = null, bool ReadOnly = false, string? Tag = null, ulong GuestCid = 0,
    MacAddress? Mac = null, VirtioBlockIoEngine? IoEngine = null);
