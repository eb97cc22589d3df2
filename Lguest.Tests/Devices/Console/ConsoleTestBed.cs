using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Lguest.Devices;
using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Devices.Console;

/// <summary>
/// A virtio console in real guest memory with a test driver on each queue, its host side on two
/// pipes the test holds the other ends of.
/// </summary>
internal sealed class ConsoleTestBed : IDisposable
{
    public const ulong Features = VirtioFeatures.RingIndirectDescriptors | VirtioFeatures.RingEventIndex | VirtioFeatures.Version1;

    public ConsoleTestBed(bool activate = true, long outputPauseBytes = 65536, ushort queueSize = 32)
    {
        Memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(16 << 20));
        Arena = new GuestArena(new GuestAddress(1 << 20), 15 << 20);
        Receive = new VirtqueueDriver(Memory, VirtioConsoleDevice.ReceiveQueueIndex, queueSize, Features, new GuestAddress(0x10000), Arena);
        Transmit = new VirtqueueDriver(Memory, VirtioConsoleDevice.TransmitQueueIndex, queueSize, Features, new GuestAddress(0x20000), Arena);
        Input = new Pipe(new PipeOptions(useSynchronizationContext: false));
        Output = new Pipe(new PipeOptions(pauseWriterThreshold: outputPauseBytes, resumeWriterThreshold: outputPauseBytes / 2, useSynchronizationContext: false));
        Device = new VirtioConsoleDevice(Memory, Input.Reader, Output.Writer, new VirtioConsoleOptions { QueueSize = queueSize });
        if (activate)
            Activate();
    }

    public GuestMemory Memory { get; }

    public GuestArena Arena { get; }

    public VirtqueueDriver Receive { get; }

    public VirtqueueDriver Transmit { get; }

    /// <summary>The host's input: the test writes what the guest should read.</summary>
    public Pipe Input { get; }

    /// <summary>The host's output: the test reads what the guest wrote.</summary>
    public Pipe Output { get; }

    public VirtioConsoleDevice Device { get; }

    public RecordingVirtioTransport Transport { get; } = new();

    public void Activate() => Device.Activate(new VirtioActivation(Features,
        [Receive.CreateQueue("console vq 0"), Transmit.CreateQueue("console vq 1")], Transport));

    public void TypeOnHost(string text)
    {
        Input.Writer.Write(Encoding.ASCII.GetBytes(text));
        Input.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Reads exactly <paramref name="length"/> bytes of the guest's output.</summary>
    public string ReadHostOutput(int length)
    {
        using var patience = new CancellationTokenSource(VirtqueueDriver.PatienceMilliseconds);
        var text = new StringBuilder();
        while (text.Length < length)
        {
            ReadResult result = Output.Reader.ReadAsync(patience.Token).AsTask().GetAwaiter().GetResult();
            System.Buffers.ReadOnlySequence<byte> buffer = result.Buffer.Slice(0, Math.Min(result.Buffer.Length, length - text.Length));
            text.Append(Encoding.ASCII.GetString(buffer));
            Output.Reader.AdvanceTo(buffer.End);
        }
        return text.ToString();
    }

    /// <summary>Posts receive buffers of the given sizes and notifies; returns them.</summary>
    public DriverBuffer[] PostReceiveBuffers(params uint[] sizes)
    {
        DriverBuffer[] buffers = sizes.Select(s => Receive.Writable(s)).ToArray();
        foreach (DriverBuffer buffer in buffers)
            Receive.Add(buffer);
        Receive.Kick();
        return buffers;
    }

    public string Text(DriverBuffer buffer, uint length) => Encoding.ASCII.GetString(Memory.GetSpan(buffer.Address, (int)length));

    public void Dispose()
    {
        Device.Reset();
        Receive.Dispose();
        Transmit.Dispose();
        Transport.Dispose();
        Memory.Dispose();
    }
}
