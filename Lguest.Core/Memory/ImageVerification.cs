namespace Lguest.Memory;

/// <summary>
/// How much of a memory image <see cref="GuestMemory.MapImage"/> reads to check it against its description before
/// mapping it. Either way the file's length and the extents' placement are checked, and nothing is mapped when a
/// check fails.
/// </summary>
public enum ImageVerification
{
    /// <summary>
    /// The sample checksum (<see cref="GuestMemoryImage.SampleChecksum"/>): at most
    /// <see cref="GuestMemoryImage.SamplePages"/> pages read, the same cost for any size of RAM, so a restore stays
    /// a fraction of a boot. Catches a truncated file, another snapshot's memory file and damage over many pages;
    /// a single flipped bit is caught only on a sampled page.
    /// </summary>
    Sample,

    /// <summary>
    /// Every byte the image holds against <see cref="GuestMemoryImage.Checksum"/>, and zeros outside the extents: a
    /// read of the whole image (seconds for a guest that touched gigabytes), for a snapshot copied over an untrusted
    /// medium.
    /// </summary>
    Full,
}
