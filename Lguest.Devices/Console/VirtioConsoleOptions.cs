using System.IO.Pipelines;

namespace Lguest.Devices;

/// <summary>
/// The virtio console's host side: where the guest's input comes from and its output goes. Give a
/// stream pair, or a pipe pair. Nothing given means nothing: no input (the guest's reads of /dev/hvc0 wait) and
/// output dropped, the same defaults as the serial console's (<c>LauncherOptions</c>); the library never touches
/// this process's own standard streams unless you pass them.
/// </summary>
/// <remarks>
/// The device passes bytes through untouched. Raw mode, and the escape that stops the launcher, belong
/// to whoever owns the terminal (the CLI wraps its standard input and passes that as <see cref="Input"/>).
/// </remarks>
public sealed class VirtioConsoleOptions
{
    /// <summary>The largest split virtqueue (virtio 1.2 §2.7).</summary>
    public const ushort MaxQueueSize = 32768;

    /// <summary>
    /// What the guest reads from /dev/hvc0; null (or <see cref="Stream.Null"/>) for no input at all. Read from one
    /// background thread for the container's lifetime.
    /// </summary>
    public Stream? Input { get; set; }

    /// <summary>Where the guest's writes to /dev/hvc0 go (a terminal, a <c>ConsoleCapture.Output</c>); null to drop them.</summary>
    public Stream? Output { get; set; }

    /// <summary>Instead of <see cref="Input"/>: a pipe whose reader the device consumes (never completed by the device).</summary>
    public PipeReader? InputReader { get; set; }

    /// <summary>Instead of <see cref="Output"/>: a pipe the device writes and flushes (never completed by the device).</summary>
    public PipeWriter? OutputWriter { get; set; }

    /// <summary>The maximum size of each of the two queues: a power of two up to <see cref="MaxQueueSize"/>.</summary>
    public ushort QueueSize { get; set; } = 128;

    /// <summary>The device's name in messages; null for "console" and its index among the consoles added.</summary>
    public string? Name { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        if (Input is not null && InputReader is not null)
            throw new ArgumentException("give the console's input as a stream or as a pipe reader, not both", nameof(InputReader));
        if (Output is not null && OutputWriter is not null)
            throw new ArgumentException("give the console's output as a stream or as a pipe writer, not both", nameof(OutputWriter));
        if (Input is { CanRead: false })
            throw new ArgumentException("the console's input stream cannot be read", nameof(Input));
        if (Output is { CanWrite: false })
            throw new ArgumentException("the console's output stream cannot be written", nameof(Output));
        if (QueueSize == 0 || QueueSize > MaxQueueSize || !ushort.IsPow2(QueueSize))
            throw new ArgumentException($"queue size {QueueSize} is not a power of two up to {MaxQueueSize}", nameof(QueueSize));
        if (Name is not null && string.IsNullOrWhiteSpace(Name))
            throw new ArgumentException("the device name is blank", nameof(Name));
    }
}
