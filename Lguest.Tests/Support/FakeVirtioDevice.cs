using Lguest.Virtio;

namespace Lguest.Tests.Support;

/// <summary>
/// An <see cref="IVirtioDevice"/> with a byte-array configuration (Moq cannot set up span arguments) that
/// records its activations and resets. <see cref="OnActivate"/> lets a test act as the device's worker.
/// </summary>
internal sealed class FakeVirtioDevice(
    string name = "fake",
    VirtioDeviceType type = VirtioDeviceType.Entropy,
    ulong features = 0,
    ushort[]? queueSizes = null,
    int configSize = 8) : IVirtioDevice
{
    public string Name => name;

    public VirtioDeviceType DeviceType => type;

    public ulong DeviceFeatures => features;

    public IReadOnlyList<ushort> QueueMaxSizes { get; } = queueSizes ?? [256, 64];

    public int ConfigSize => configSize;

    public byte ConfigGeneration { get; set; }

    public byte[] Config { get; } = Enumerable.Range(0, configSize).Select(i => (byte)(0xa0 + i)).ToArray();

    public List<(string Kind, int Offset, byte[] Data)> ConfigAccesses { get; } = [];

    public List<VirtioActivation> Activations { get; } = [];

    public int Resets { get; private set; }

    public Action<VirtioActivation>? OnActivate { get; set; }

    /// <summary>The current activation: the last one, unless a reset came after it.</summary>
    public VirtioActivation? Active { get; private set; }

    public void ReadConfig(int offset, Span<byte> data)
    {
        Config.AsSpan(offset, data.Length).CopyTo(data);
        ConfigAccesses.Add(("read", offset, data.ToArray()));
    }

    public void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        data.CopyTo(Config.AsSpan(offset));
        ConfigAccesses.Add(("write", offset, data.ToArray()));
    }

    public void Activate(VirtioActivation activation)
    {
        Activations.Add(activation);
        Active = activation;
        OnActivate?.Invoke(activation);
    }

    /// <summary>What <see cref="CaptureState"/> returns and <see cref="RestoreState"/> sets: the device's own state in a snapshot.</summary>
    public byte[] State { get; set; } = [];

    /// <summary>The device's activations at the moment <see cref="RestoreState"/> was called (it must come before any).</summary>
    public int ActivationsAtRestore { get; private set; } = -1;

    public byte[] CaptureState() => [.. State];

    public void RestoreState(ReadOnlyMemory<byte> state)
    {
        ActivationsAtRestore = Activations.Count;
        State = state.ToArray();
    }

    public void Reset()
    {
        Resets++;
        Active = null;
    }

    /// <summary>Counts the pauses; the fake has no worker of its own to stop.</summary>
    public int Pauses { get; private set; }

    /// <summary>Counts the resumes.</summary>
    public int Resumes { get; private set; }

    public void Pause() => Pauses++;

    public void Resume() => Resumes++;
}
