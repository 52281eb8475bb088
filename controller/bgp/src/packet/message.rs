//! Messages (RFC 4271 §4): framing, OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::attribute::{
    decode_attributes, encode_attributes, Aggregator, AsPath, AttrValue, MpReach, MpUnreach,
    PathAttribute,
};
use super::capability::Capability;
use super::consts::{
    attr, msg, notify, param, AS_TRANS, BGP_VERSION, HEADER_LEN, MARKER, MAX_EXTENDED_MESSAGE_LEN,
    MAX_MESSAGE_LEN,
};
use super::error::{Action, DecodeError, EncodeError, Finding, UpdateProblem};
use super::nlri::{Family, FamilySet, NlriList};
use super::wire::{patch_u16, placeholder_u16, Reader};

/// What the session negotiated, which changes how bytes are read and written.
///
/// ADD-PATH (RFC 7911) is not supported: path identifiers are never expected or sent, which
/// is what a session that does not advertise the capability gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Context {
    /// Both sides advertised the 4-octet AS capability (RFC 6793): AS_PATH and AGGREGATOR
    /// carry 4-octet AS numbers and AS4_* attributes are not used.
    pub four_octet_as: bool,
    /// Both sides advertised the extended message capability (RFC 8654): messages other than
    /// OPEN and KEEPALIVE may be up to 65535 octets.
    pub extended_message: bool,
    /// The address families both sides advertised; MP attributes of others are discarded.
    pub families: FamilySet,
}

impl Default for Context {
    /// What holds before (or without) capabilities: 2-octet AS, 4096-octet messages and
    /// IPv4 unicast only (RFC 4760 §8).
    fn default() -> Self {
        Context {
            four_octet_as: false,
            extended_message: false,
            families: [Family::Ipv4Unicast].into_iter().collect(),
        }
    }
}

impl Context {
    /// Everything on: 4-octet AS, extended messages, every family the codec knows.
    pub fn all() -> Self {
        Context {
            four_octet_as: true,
            extended_message: true,
            families: FamilySet::all(),
        }
    }

    /// Largest message this session may carry (OPEN and KEEPALIVE are always ≤ 4096).
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }

    /// The context two OPENs agree on: a capability counts when both sides sent it.
    pub fn negotiated(local: &Open, remote: &Open) -> Context {
        let both = |f: fn(&Capability) -> bool| {
            local.capabilities().any(f) && remote.capabilities().any(f)
        };
        let (l, r) = (local.families(), remote.families());
        Context {
            four_octet_as: both(|c| matches!(c, Capability::FourOctetAs(_))),
            extended_message: both(|c| matches!(c, Capability::ExtendedMessage)),
            families: l.iter().filter(|f| r.contains(*f)).collect(),
        }
    }
}

/// A decoded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

/// A message together with what RFC 7606 noted while decoding it (only UPDATEs have findings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub message: Message,
    pub findings: Vec<Finding>,
}

/// OPEN (RFC 4271 §4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Open {
    pub version: u8,
    /// "My Autonomous System": AS_TRANS when the real AS needs 4 octets (RFC 6793).
    pub my_as: u16,
    pub hold_time: u16,
    pub bgp_id: Ipv4Addr,
    /// Capabilities grouped as they were received: one inner list per capabilities optional
    /// parameter (some speakers send one parameter per capability, others one in total).
    pub capability_params: Vec<Vec<Capability>>,
    /// Optional parameters were in RFC 9072 extended-length form.
    pub extended_params: bool,
}

impl Open {
    /// An OPEN with all capabilities in one optional parameter, `my_as` set to AS_TRANS
    /// for a 4-octet AS (the caller adds the [`Capability::FourOctetAs`] it wants).
    pub fn new(asn: u32, hold_time: u16, bgp_id: Ipv4Addr, caps: Vec<Capability>) -> Self {
        Open {
            version: BGP_VERSION,
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS),
            hold_time,
            bgp_id,
            capability_params: if caps.is_empty() {
                Vec::new()
            } else {
                vec![caps]
            },
            extended_params: false,
        }
    }

    /// All capabilities, in order.
    pub fn capabilities(&self) -> impl Iterator<Item = &Capability> {
        self.capability_params.iter().flatten()
    }

    /// The speaker's AS: the 4-octet AS capability when present, else "My Autonomous System".
    pub fn asn(&self) -> u32 {
        self.capabilities()
            .find_map(|c| match c {
                Capability::FourOctetAs(a) => Some(*a),
                _ => None,
            })
            .unwrap_or(u32::from(self.my_as))
    }

    /// Families advertised with the multiprotocol capability that the codec knows; IPv4
    /// unicast alone when there is none (RFC 4760 §8).
    pub fn families(&self) -> FamilySet {
        let mut any = false;
        let mut set = FamilySet::empty();
        for c in self.capabilities() {
            if let Capability::Multiprotocol { family, .. } = c {
                any = true;
                if let Some(f) = Family::from_afi_safi(*family) {
                    set.insert(f);
                }
            }
        }
        if !any {
            set.insert(Family::Ipv4Unicast);
        }
        set
    }

    fn decode(body: &[u8]) -> Result<Open, DecodeError> {
        let mut r = Reader::new(body);
        let short = DecodeError::MalformedOpen("shorter than its fixed fields");
        let version = r.u8().ok_or(short.clone())?;
        if version != BGP_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let my_as = r.u16().ok_or(short.clone())?;
        let hold_time = r.u16().ok_or(short.clone())?;
        if hold_time == 1 || hold_time == 2 {
            return Err(DecodeError::UnacceptableHoldTime(hold_time));
        }
        let bgp_id = Ipv4Addr::from(r.array::<4>().ok_or(short.clone())?);
        if bgp_id.is_unspecified() {
            return Err(DecodeError::BadBgpIdentifier);
        }
        let len = r.u8().ok_or(short)?;
        let extended_params = len == 255 && r.rest().first() == Some(&param::EXTENDED_LENGTH);
        let params_len = if extended_params {
            r.u8();
            usize::from(
                r.u16()
                    .ok_or(DecodeError::MalformedOpen("truncated extended length"))?,
            )
        } else {
            usize::from(len)
        };
        let params = r.take(params_len).ok_or(DecodeError::MalformedOpen(
            "optional parameters overrun the message",
        ))?;
        if !r.is_empty() {
            return Err(DecodeError::MalformedOpen(
                "octets after the optional parameters",
            ));
        }
        let mut p = Reader::new(params);
        let mut capability_params = Vec::new();
        while !p.is_empty() {
            let t = p
                .u8()
                .ok_or(DecodeError::MalformedOpen("truncated parameter"))?;
            let plen = if extended_params {
                p.u16().map(usize::from)
            } else {
                p.u8().map(usize::from)
            }
            .ok_or(DecodeError::MalformedOpen("truncated parameter"))?;
            let value = p.take(plen).ok_or(DecodeError::MalformedOpen(
                "parameter overruns the parameters",
            ))?;
            if t != param::CAPABILITIES {
                return Err(DecodeError::UnsupportedOptionalParameter(t));
            }
            capability_params.push(Capability::decode_all(value)?);
        }
        Ok(Open {
            version,
            my_as,
            hold_time,
            bgp_id,
            capability_params,
            extended_params,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(self.version);
        out.extend_from_slice(&self.my_as.to_be_bytes());
        out.extend_from_slice(&self.hold_time.to_be_bytes());
        out.extend_from_slice(&self.bgp_id.octets());
        let group_lens: Vec<usize> = self
            .capability_params
            .iter()
            .map(|g| g.iter().map(Capability::encoded_len).sum())
            .collect();
        let ext = self.extended_params
            || group_lens.iter().any(|&l| l > 255)
            || group_lens.iter().map(|l| l + 2).sum::<usize>() > 254;
        let total: usize = group_lens.iter().map(|l| l + if ext { 3 } else { 2 }).sum();
        if ext {
            let t = u16::try_from(total).map_err(|_| EncodeError::FieldTooLong {
                what: "optional parameters",
                len: total,
            })?;
            out.extend_from_slice(&[255, param::EXTENDED_LENGTH]);
            out.extend_from_slice(&t.to_be_bytes());
        } else {
            out.push(total as u8);
        }
        for (group, len) in self.capability_params.iter().zip(group_lens) {
            if group.iter().any(|c| c.encoded_len() > 257) {
                return Err(EncodeError::FieldTooLong {
                    what: "capability",
                    len,
                });
            }
            out.push(param::CAPABILITIES);
            if ext {
                out.extend_from_slice(&(len as u16).to_be_bytes());
            } else {
                out.push(len as u8);
            }
            group.iter().for_each(|c| c.encode(out));
        }
        Ok(())
    }
}

/// NOTIFICATION (RFC 4271 §4.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

impl Notification {
    /// Cease, with a subcode from RFC 4486 (e.g. 2 = administrative shutdown).
    pub fn cease(subcode: u8) -> Self {
        Notification {
            code: notify::CEASE,
            subcode,
            data: Vec::new(),
        }
    }

    fn decode(body: &[u8]) -> Notification {
        let mut r = Reader::new(body);
        Notification {
            code: r.u8().unwrap_or(0),
            subcode: r.u8().unwrap_or(0),
            data: r.rest().to_vec(),
        }
    }
}

/// ROUTE-REFRESH (RFC 2918; the subtype is RFC 7313's, 0 for a plain refresh).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteRefresh {
    pub afi: u16,
    pub subtype: u8,
    pub safi: u8,
}

impl RouteRefresh {
    pub const NORMAL: u8 = 0;
    /// Beginning of route refresh (RFC 7313).
    pub const BORR: u8 = 1;
    /// End of route refresh (RFC 7313).
    pub const EORR: u8 = 2;
}

/// UPDATE (RFC 4271 §4.3). IPv4 unicast may travel in the classic withdrawn / NLRI fields;
/// every other family travels in MP_REACH_NLRI / MP_UNREACH_NLRI inside `attributes`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Update {
    pub withdrawn: Vec<Ipv4Net>,
    /// In wire order; MP_REACH_NLRI should come first (RFC 7606 §5.1).
    pub attributes: Vec<PathAttribute>,
    pub nlri: Vec<Ipv4Net>,
}

impl Update {
    /// The first attribute of type `t`.
    pub fn attribute(&self, t: u8) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .map(|a| &a.value)
            .find(|v| v.type_code() == t)
    }

    pub fn as_path(&self) -> Option<&AsPath> {
        match self.attribute(attr::AS_PATH) {
            Some(AttrValue::AsPath(p)) => Some(p),
            _ => None,
        }
    }

    pub fn mp_reach(&self) -> Option<&MpReach> {
        match self.attribute(attr::MP_REACH_NLRI) {
            Some(AttrValue::MpReach(m)) => Some(m),
            _ => None,
        }
    }

    /// How many prefixes it announces and withdraws, in every family.
    pub fn route_count(&self) -> usize {
        self.withdrawn.len()
            + self.nlri.len()
            + self.mp_reach().map_or(0, |m| m.nlri.len())
            + self.mp_unreach().map(|m| m.withdrawn.len()).sum::<usize>()
    }

    /// Every MP_UNREACH_NLRI (a received UPDATE has at most one; after treat-as-withdraw
    /// there can be one per family).
    pub fn mp_unreach(&self) -> impl Iterator<Item = &MpUnreach> {
        self.attributes.iter().filter_map(|a| match &a.value {
            AttrValue::MpUnreach(m) => Some(m),
            _ => None,
        })
    }

    /// The AS path the route really has: for a 2-octet session, AS_PATH merged with
    /// AS4_PATH per RFC 6793 §4.2.3 (unless AGGREGATOR shows an old aggregator); otherwise
    /// AS_PATH as is.
    pub fn effective_as_path(&self) -> Option<AsPath> {
        let path = self.as_path()?;
        let as4 = match self.attribute(attr::AS4_PATH) {
            Some(AttrValue::As4Path(p)) => p,
            _ => return Some(path.clone()),
        };
        match self.attribute(attr::AGGREGATOR) {
            Some(AttrValue::Aggregator(ag)) if ag.asn != u32::from(AS_TRANS) => Some(path.clone()),
            _ => Some(path.merge_as4(as4)),
        }
    }

    /// The aggregator the route really has: AS4_AGGREGATOR replaces an AGGREGATOR that says
    /// AS_TRANS (RFC 6793 §4.2.3).
    pub fn effective_aggregator(&self) -> Option<Aggregator> {
        let ag = match self.attribute(attr::AGGREGATOR) {
            Some(AttrValue::Aggregator(ag)) => *ag,
            _ => return None,
        };
        match self.attribute(attr::AS4_AGGREGATOR) {
            Some(AttrValue::As4Aggregator(ag4)) if ag.asn == u32::from(AS_TRANS) => Some(*ag4),
            _ => Some(ag),
        }
    }

    /// True for an End-of-RIB marker (RFC 4724 §2): an empty UPDATE for IPv4 unicast, or one
    /// holding only an empty MP_UNREACH_NLRI for another family.
    pub fn end_of_rib(&self) -> Option<Family> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        match self.attributes.as_slice() {
            [] => Some(Family::Ipv4Unicast),
            [PathAttribute {
                value: AttrValue::MpUnreach(m),
                ..
            }] if m.withdrawn.is_empty() => Some(m.withdrawn.family()),
            _ => None,
        }
    }

    /// Turns an announcement into the withdrawal RFC 7606 "treat-as-withdraw" asks for:
    /// NLRI join the withdrawn routes, MP_REACH_NLRI prefixes join (or become) an
    /// MP_UNREACH_NLRI of their family, and the other attributes go.
    pub fn into_withdrawal(self) -> Update {
        let mut unreach: Vec<NlriList> = Vec::new();
        for a in self.attributes {
            let list = match a.value {
                AttrValue::MpReach(m) => m.nlri,
                AttrValue::MpUnreach(m) => m.withdrawn,
                _ => continue,
            };
            let mut list = Some(list);
            for u in unreach.iter_mut() {
                if let Some(l) = list.take() {
                    if u.family() == l.family() {
                        u.extend_from(l);
                    } else {
                        list = Some(l);
                    }
                }
            }
            unreach.extend(list);
        }
        let mut withdrawn = self.withdrawn;
        withdrawn.extend(self.nlri);
        Update {
            withdrawn,
            attributes: unreach
                .into_iter()
                .map(|withdrawn| PathAttribute::new(AttrValue::MpUnreach(MpUnreach { withdrawn })))
                .collect(),
            nlri: Vec::new(),
        }
    }

    fn encode(&self, ctx: &Context, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let at = placeholder_u16(out);
        self.withdrawn
            .iter()
            .for_each(|p| super::nlri::write_v4(out, p));
        patch_len(out, at, "withdrawn routes")?;
        let at = placeholder_u16(out);
        encode_attributes(&self.attributes, ctx, out)?;
        patch_len(out, at, "path attributes")?;
        self.nlri.iter().for_each(|p| super::nlri::write_v4(out, p));
        Ok(())
    }
}

/// Fills a length slot written by [`placeholder_u16`] with the number of octets after it.
fn patch_len(out: &mut [u8], at: usize, what: &'static str) -> Result<(), EncodeError> {
    let len = out.len() - at - 2;
    let v = u16::try_from(len).map_err(|_| EncodeError::FieldTooLong { what, len })?;
    patch_u16(out, at, v);
    Ok(())
}

/// A decoded UPDATE plus the RFC 7606 findings. When a finding says treat-as-withdraw, the
/// update has already been turned into that withdrawal ([`Update::into_withdrawal`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateOutcome {
    pub update: Update,
    pub findings: Vec<Finding>,
}

impl UpdateOutcome {
    /// The strongest action any finding asked for.
    pub fn action(&self) -> Option<Action> {
        self.findings.iter().map(|f| f.action).max()
    }

    pub fn treated_as_withdraw(&self) -> bool {
        self.action() == Some(Action::TreatAsWithdraw)
    }
}

/// One message located in a byte stream (first decoding phase: no allocation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub msg_type: u8,
    /// The message after its 19-octet header.
    pub body: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Octets the message occupies in the stream, header included.
    pub fn len(&self) -> usize {
        HEADER_LEN + self.body.len()
    }

    /// Never true: a frame has at least its header. (For clippy's `len_without_is_empty`.)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Splits an UPDATE into its three fields without decoding them.
    pub fn update(&self) -> Option<Result<UpdateFrame<'a>, DecodeError>> {
        (self.msg_type == msg::UPDATE).then(|| UpdateFrame::parse(self.body))
    }

    /// Second phase: the typed message.
    pub fn decode(&self, ctx: &Context) -> Result<Decoded, DecodeError> {
        let plain = |message| Decoded {
            message,
            findings: Vec::new(),
        };
        Ok(match self.msg_type {
            msg::OPEN => plain(Message::Open(Open::decode(self.body)?)),
            msg::UPDATE => {
                let out = UpdateFrame::parse(self.body)?.decode(ctx)?;
                Decoded {
                    message: Message::Update(out.update),
                    findings: out.findings,
                }
            }
            msg::NOTIFICATION => plain(Message::Notification(Notification::decode(self.body))),
            msg::KEEPALIVE => plain(Message::Keepalive),
            msg::ROUTE_REFRESH => {
                let mut r = Reader::new(self.body);
                let (Some(afi), Some(subtype), Some(safi), true) =
                    (r.u16(), r.u8(), r.u8(), r.is_empty())
                else {
                    return Err(DecodeError::BadRouteRefreshLength(self.len() as u16));
                };
                plain(Message::RouteRefresh(RouteRefresh { afi, subtype, safi }))
            }
            t => return Err(DecodeError::BadType(t)),
        })
    }
}

/// Finds the first message in `buf`. `Ok(None)` means more bytes are needed; errors are the
/// message header errors of RFC 4271 §6.1 (and RFC 8654's size limits).
pub fn frame<'a>(buf: &'a [u8], ctx: &Context) -> Result<Option<Frame<'a>>, DecodeError> {
    let mut r = Reader::new(buf);
    let (Some(marker), Some(len), Some(msg_type)) = (r.array::<16>(), r.u16(), r.u8()) else {
        return Ok(None);
    };
    if marker != MARKER {
        return Err(DecodeError::NotSynchronized);
    }
    let max = match msg_type {
        msg::OPEN | msg::KEEPALIVE => MAX_MESSAGE_LEN,
        _ => ctx.max_message_len(),
    };
    let min = match msg_type {
        msg::OPEN => 29,
        msg::UPDATE => 23,
        msg::NOTIFICATION => 21,
        msg::KEEPALIVE => HEADER_LEN,
        msg::ROUTE_REFRESH => 23,
        // RFC 4271 §6.1 checks the length before the type.
        _ if usize::from(len) < HEADER_LEN || usize::from(len) > max => {
            return Err(DecodeError::BadLength(len))
        }
        t => return Err(DecodeError::BadType(t)),
    };
    let n = usize::from(len);
    if n < min || n > max || (msg_type == msg::KEEPALIVE && n != HEADER_LEN) {
        return Err(DecodeError::BadLength(len));
    }
    Ok(r.take(n - HEADER_LEN).map(|body| Frame { msg_type, body }))
}

impl Message {
    /// Decodes exactly one message occupying all of `buf`.
    pub fn decode(buf: &[u8], ctx: &Context) -> Result<Decoded, DecodeError> {
        let len = buf
            .get(16..18)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .unwrap_or(0);
        match frame(buf, ctx)? {
            Some(f) if f.len() == buf.len() => f.decode(ctx),
            _ => Err(DecodeError::BadLength(len)),
        }
    }

    pub fn msg_type(&self) -> u8 {
        match self {
            Message::Open(_) => msg::OPEN,
            Message::Update(_) => msg::UPDATE,
            Message::Notification(_) => msg::NOTIFICATION,
            Message::Keepalive => msg::KEEPALIVE,
            Message::RouteRefresh(_) => msg::ROUTE_REFRESH,
        }
    }

    /// Appends the message, header included. Fails rather than write something longer than
    /// the session allows.
    pub fn encode(&self, ctx: &Context, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = out.len();
        out.extend_from_slice(&MARKER);
        let at = placeholder_u16(out);
        out.push(self.msg_type());
        match self {
            Message::Open(o) => o.encode(out)?,
            Message::Update(u) => u.encode(ctx, out)?,
            Message::Notification(n) => {
                out.push(n.code);
                out.push(n.subcode);
                out.extend_from_slice(&n.data);
            }
            Message::Keepalive => {}
            Message::RouteRefresh(r) => {
                out.extend_from_slice(&r.afi.to_be_bytes());
                out.push(r.subtype);
                out.push(r.safi);
            }
        }
        let len = out.len() - start;
        let max = match self {
            Message::Open(_) | Message::Keepalive => MAX_MESSAGE_LEN,
            _ => ctx.max_message_len(),
        };
        if len > max {
            out.truncate(start);
            return Err(EncodeError::TooLong { len, max });
        }
        patch_u16(out, at, len as u16);
        Ok(())
    }

    /// The message as a new buffer.
    pub fn to_bytes(&self, ctx: &Context) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(64);
        self.encode(ctx, &mut out)?;
        Ok(out)
    }
}

/// An UPDATE split into its fields (first phase; nothing decoded or allocated yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpdateFrame<'a> {
    pub withdrawn: &'a [u8],
    pub attributes: &'a [u8],
    pub nlri: &'a [u8],
}

impl<'a> UpdateFrame<'a> {
    /// Locates the fields. If either length overruns the message the NLRI cannot be found,
    /// so this is a session reset (RFC 7606 §4).
    pub fn parse(body: &'a [u8]) -> Result<UpdateFrame<'a>, DecodeError> {
        let reset = |problem| DecodeError::Update {
            subcode: notify::update::MALFORMED_ATTRIBUTE_LIST,
            data: Vec::new(),
            problem,
        };
        let mut r = Reader::new(body);
        let wlen = r.u16().ok_or(reset(UpdateProblem::WithdrawnOverrun(0)))?;
        let withdrawn = r
            .take(usize::from(wlen))
            .ok_or(reset(UpdateProblem::WithdrawnOverrun(wlen)))?;
        let alen = r.u16().ok_or(reset(UpdateProblem::AttributesOverrun(0)))?;
        let attributes = r
            .take(usize::from(alen))
            .ok_or(reset(UpdateProblem::AttributesOverrun(alen)))?;
        Ok(UpdateFrame {
            withdrawn,
            attributes,
            nlri: r.rest(),
        })
    }

    /// Second phase: decode the fields, applying RFC 7606.
    pub fn decode(&self, ctx: &Context) -> Result<UpdateOutcome, DecodeError> {
        let invalid_network = |field| DecodeError::Update {
            subcode: notify::update::INVALID_NETWORK_FIELD,
            data: Vec::new(),
            problem: UpdateProblem::InvalidPrefix(field),
        };
        // RFC 7606 §5.3: withdrawn routes and NLRI that do not parse reset the session.
        let withdrawn = match NlriList::decode(Family::Ipv4Unicast, self.withdrawn, "withdrawn") {
            Ok(NlriList::Ipv4(v)) => v,
            _ => return Err(invalid_network("withdrawn")),
        };
        let nlri = match NlriList::decode(Family::Ipv4Unicast, self.nlri, "NLRI") {
            Ok(NlriList::Ipv4(v)) => v,
            _ => return Err(invalid_network("NLRI")),
        };
        let decoded = decode_attributes(self.attributes, ctx)?;
        let mut findings = decoded.findings;
        let update = Update {
            withdrawn,
            attributes: decoded.attrs,
            nlri,
        };

        // RFC 7606 §3 (d): missing well-known attributes, only when something is announced
        // and the attribute list was complete (a cut list already means treat-as-withdraw).
        let cut = findings
            .iter()
            .any(|f| f.problem == UpdateProblem::AttributeTruncated);
        if !cut && (!update.nlri.is_empty() || update.mp_reach().is_some()) {
            let needs_next_hop = !update.nlri.is_empty();
            let needed = [attr::ORIGIN, attr::AS_PATH, attr::NEXT_HOP];
            for t in needed
                .into_iter()
                .filter(|&t| needs_next_hop || t != attr::NEXT_HOP)
            {
                let present =
                    update.attribute(t).is_some() || findings.iter().any(|f| f.attr_type == t);
                if !present {
                    findings.push(Finding {
                        attr_type: t,
                        action: Action::TreatAsWithdraw,
                        problem: UpdateProblem::MissingWellKnown(t),
                    });
                }
            }
        }
        let withdraw = findings.iter().any(|f| f.action == Action::TreatAsWithdraw);
        Ok(UpdateOutcome {
            update: if withdraw {
                update.into_withdrawal()
            } else {
                update
            },
            findings,
        })
    }
}
