// Fixture: TSX symbols.
import React from "react";

interface Props {
  title: string;
}

export const Header = ({ title }: Props) => <h1>{title}</h1>;

export function Page(props: Props) {
  return <div><Header title={props.title} /></div>;
}

class Counter extends React.Component<Props> {
  render() {
    return <span>{this.props.title}</span>;
  }
}
